"""Who may touch which case: roles for actions, grants for content.

A grant is the only way to a case's content: holding the case key sealed to
your own public key. Roles say which actions you may take on the cases you
hold. Without a grant a case answers "not found" (never "forbidden"), so its
existence is not confirmed either. Administrators have no case roles at all.
"""

from nacl.public import PrivateKey
from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crypto import keys

from .auth import Identity
from .errors import SpeakupError
from .models import Case, Grant

CASE_ROLES = frozenset({"compliance_officer", "investigator", "audit_committee"})
# Acknowledge, assign, move through the workflow, hand over.
MANAGING_ROLES = frozenset({"compliance_officer", "audit_committee"})
AUDIT_READERS = frozenset({"admin", "audit_committee"})


class NoSuchCase(SpeakupError):
    status = 404
    code = "not_found"
    detail = "There is no such case, or you hold no grant for it."


class Forbidden(SpeakupError):
    status = 403
    code = "forbidden"
    detail = "Your role does not allow this."


def require_role(identity: Identity, roles: frozenset[str]) -> None:
    if identity.staff.role not in roles:
        raise Forbidden()


def _staff_grant(staff_id: int):
    return and_(Grant.case_id == Case.id, Grant.holder == "staff", Grant.staff_id == staff_id)


async def granted_case(
    session: AsyncSession, identity: Identity, reference: str, *, roles: frozenset[str] = CASE_ROLES
) -> tuple[Case, PrivateKey]:
    """The case and its private key, if this staff member holds a grant and a fitting role."""
    require_role(identity, roles)
    row = (
        await session.execute(select(Case, Grant).join(Grant, _staff_grant(identity.staff.id)).where(Case.reference == reference))
    ).one_or_none()
    if row is None:
        raise NoSuchCase()
    case, grant = row
    return case, keys.open_grant(grant.sealed_key, identity.private_key)
