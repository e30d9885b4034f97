"""Who may touch which case: the step's rules for the role and the case's state, a grant for the content.

A grant is the only way to a case's content: holding the case key sealed to
your own public key. ``cases/steps.py`` says which steps each role may take,
and when. Without a grant a case answers "not found" (never "forbidden"), so
its existence is not confirmed either. Administrators have no case roles at all.
"""

from nacl.public import PrivateKey
from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crypto import keys

from . import steps
from .errors import Forbidden, NoSuchCase
from .exclusion import is_implicated, routing_allows
from .identity import Identity
from .models import Case, Grant


def require_role(identity: Identity, roles: frozenset[str]) -> None:
    """``Forbidden`` unless the staff member has one of ``roles`` (for pages that are not about one case)."""
    if identity.staff.role not in roles:
        raise Forbidden()


def _staff_grant(staff_id: int):
    return and_(Grant.case_id == Case.id, Grant.holder == "staff", Grant.staff_id == staff_id)


async def granted_case(session: AsyncSession, identity: Identity, reference: str, step: str) -> tuple[Case, PrivateKey]:
    """The case and its private key, for a step this staff member may take on it now.

    In this order: the role must allow the step (``Forbidden``), the staff member
    must hold a grant (``NoSuchCase``), and the case's state must allow it (``WrongStatus``).
    """
    steps.check_role(identity.staff.role, step)
    row = (
        await session.execute(select(Case, Grant).join(Grant, _staff_grant(identity.staff.id)).where(Case.reference == reference))
    ).one_or_none()
    if row is None:
        raise NoSuchCase()
    case, grant = row
    # A grant left from an older database or an earlier role opens nothing that routing or a conflict forbids.
    if not routing_allows(case, identity.staff.role) or await is_implicated(session, case.id, identity.staff.id):
        raise NoSuchCase()
    steps.check_state(case, identity.staff.role, step)
    return case, keys.open_grant(grant.sealed_key, identity.private_key)


async def holds(session: AsyncSession, identity: Identity, reference: str) -> bool:
    """Whether this staff member holds a grant for the case (after a recusal, say)."""
    found = await session.scalar(select(Grant.id).join(Case, _staff_grant(identity.staff.id)).where(Case.reference == reference))
    return found is not None
