"""Giving and taking the case keys: the one place grants to staff are made and revoked.

A staff grant carries both of the case's keys (the conversation key and the staff key).
"""

from datetime import datetime

from nacl.public import PublicKey
from sqlalchemy import ColumnElement, SQLColumnExpression, and_, delete, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crypto import keys

from . import audit
from .access import CaseKeys, require_role
from .errors import Forbidden, InvalidInput
from .exclusion import implicated_clause, routing_allows
from .identity import Identity
from .models import Case, Grant, Implicated, Staff
from .notes import add_note
from .vocabulary import ACCOUNT_MANAGERS, CASE_ROLES, COMMITTEE_ROLES


async def grant_to(
    session: AsyncSession,
    identity: Identity,
    case: Case,
    case_keys: CaseKeys,
    staff: Staff,
    now: datetime,
    *,
    override: str = "",
) -> bool:
    """Seal the case keys to ``staff`` unless they hold them; refuse what routing or a conflict forbids.

    ``override`` (a reason) lets an Audit Committee member grant it to someone the case implicates.
    Returns whether a grant was added.
    """
    if not routing_allows(case, staff.role):
        raise InvalidInput(fields={"assignee": "This report concerns leadership: it cannot go to a Compliance Officer."})
    implicated = await session.scalar(select(Implicated).where(Implicated.case_id == case.id, Implicated.staff_id == staff.id))
    if implicated is not None and not implicated.overridden:
        if not override:
            raise InvalidInput(fields={"assignee": "This case implicates them; only an Audit Committee override can grant it."})
        if identity.staff.role not in COMMITTEE_ROLES:
            raise Forbidden("Only an Audit Committee member can override a conflict of interest.")
        implicated.overridden = True
    if await session.scalar(select(Grant.id).where(Grant.case_id == case.id, Grant.staff_id == staff.id)) is not None:
        return False
    # Seal to the key the grantee has now, and keep it so until this commits (see filing.py).
    await session.refresh(staff, ["public_key"], with_for_update={"read": True})
    session.add(staff_grant(case.id, case_keys, staff))
    await audit.record(
        session,
        "grant.override" if implicated else "grant.added",
        actor_id=identity.staff.id,
        case_id=case.id,
        detail=f"staff {staff.id}",
        at=now,
    )
    if implicated:  # the reason is the Committee's, sealed with the case; the log keeps the kind
        await add_note(session, identity, case, f"Granted to {staff.email} despite a conflict of interest: {override}", now)
    return True


def staff_grant(case_id: int, case_keys: CaseKeys, staff: Staff) -> Grant:
    """A grant of both case keys to ``staff`` (of the conversation key alone for a case without a staff key yet)."""
    public = PublicKey(staff.public_key)
    return Grant(
        case_id=case_id,
        holder="staff",
        staff_id=staff.id,
        sealed_key=keys.grant(case_keys.conversation, public),
        staff_sealed_key=None if case_keys.staff is None else keys.grant(case_keys.staff, public),
    )


def open_recovery_grant(grant: Grant, recovery_key) -> CaseKeys:
    """Both case keys from the case's recovery grant. Raises ``CryptoError`` for another key."""
    staff = None if grant.staff_sealed_key is None else keys.open_grant(grant.staff_sealed_key, recovery_key)
    return CaseKeys(keys.open_grant(grant.sealed_key, recovery_key), staff)


async def revoke(session: AsyncSession, identity: Identity, case: Case, staff_id: int, now: datetime) -> None:
    """Take the case key from a staff member. Only the Audit Committee takes it from one of its
    members, and a case is never left with no active staff member who may read it."""
    holder = await session.get(Staff, staff_id)
    if holder is not None and holder.role in COMMITTEE_ROLES and identity.staff.role not in COMMITTEE_ROLES:
        raise Forbidden("Only the Audit Committee can take a case from one of its members.")
    await session.execute(delete(Grant).where(Grant.case_id == case.id, Grant.staff_id == staff_id))
    await ensure_held(session, case)
    await audit.record(session, "grant.revoked", actor_id=identity.staff.id, case_id=case.id, detail=f"staff {staff_id}", at=now)


def readers_clause(case_id: int | SQLColumnExpression[int]) -> ColumnElement[bool]:
    """SQL over ``Grant`` joined to ``Staff``: the active staff who hold this case and may read it."""
    return and_(
        Grant.case_id == case_id,
        Grant.holder == "staff",
        Staff.active.is_(True),
        Staff.role.in_(CASE_ROLES),
        or_(Case.routing != "audit_committee", Staff.role != "compliance_officer"),
        not_(implicated_clause(Staff.id, case_id)),
    )


async def readers(session: AsyncSession, case: Case) -> int:
    """How many active staff members hold the case and may read it."""
    query = select(func.count(Grant.id)).join(Staff, Staff.id == Grant.staff_id).join(Case, Case.id == Grant.case_id)
    return (await session.execute(query.where(readers_clause(case.id)))).scalar_one()


async def ensure_held(session: AsyncSession, case: Case) -> None:
    """``InvalidInput`` if no active staff member would hold the case any more: nothing may leave a case unread."""
    if not await readers(session, case):
        raise InvalidInput(fields={"staff": "Nobody active would hold this case any more: give it to someone first."})


async def unheld_cases(session: AsyncSession, *, among: list[int] | None = None, hidden_from: int | None = None) -> list[str]:
    """References of cases (of ``among``, by id) that no active staff member may read: an alarm.
    ``hidden_from``: leave out the cases that implicate this staff member (they may not learn of them)."""
    held = select(Grant.id).join(Staff, Staff.id == Grant.staff_id).where(readers_clause(Case.id))
    query = select(Case.reference).where(~held.exists())
    if among is not None:
        query = query.where(Case.id.in_(among))
    if hidden_from is not None:
        query = query.where(~implicated_clause(hidden_from))
    return list(await session.scalars(query.order_by(Case.reference)))


async def unheld_alarm(session: AsyncSession, identity: Identity) -> list[str]:
    """For the Audit Committee and administrators: the cases nobody active can read (see ``speakup regrant``)."""
    require_role(identity, COMMITTEE_ROLES | ACCOUNT_MANAGERS)
    async with session.begin():
        return await unheld_cases(session, hidden_from=identity.staff.id)
