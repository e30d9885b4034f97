"""The Audit Committee's part: escalation, its own queue, taking over, and conflicts of interest.

Escalating seals the case key to every active Audit Committee member, which
only someone already holding the key can do. Staff a case implicates lose
their grant at once, and only an Audit Committee member can grant it to them
again, on the record.
"""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from . import audit, notifications
from .access import granted_case
from .context import Context
from .errors import Forbidden, InvalidInput
from .grants import grant_to, revoke
from .identity import Identity
from .models import Grant, Implicated, Staff
from .notes import add_note
from .vocabulary import COMMITTEE_ROLES, TAKE_OVER_ROLES
from .workflow import _status, _today


def _reason(text: str, field: str = "reason") -> str:
    text = text.strip()
    if len(text) < 5:
        raise InvalidInput(fields={field: "Give the reason, in a few words."})
    return text


async def escalate(session: AsyncSession, ctx: Context, identity: Identity, reference: str, reason: str, now: datetime) -> int:
    """Hand the case to the Audit Committee: every active member gets the key. Commits. Returns grants added."""
    reason = _reason(reason)
    async with session.begin():
        case, case_keys = await granted_case(session, identity, reference, "escalate")
        members = (await session.scalars(select(Staff).where(Staff.role == "audit_committee", Staff.active.is_(True)))).all()
        if not members:
            raise InvalidInput(fields={"reason": "There is no active Audit Committee member to escalate to."})
        added = 0
        for member in members:
            try:
                added += await grant_to(session, identity, case, case_keys, member, now)
            except InvalidInput:
                continue  # an implicated member does not get it
        await audit.record(session, "case.escalated", actor_id=identity.staff.id, case_id=case.id, at=now)
        await add_note(session, identity, case, f"Escalated to the Audit Committee: {reason}", now)
        case.escalated_on = _today(now)
        await _status(session, identity, case, "escalated", now)
        await notifications.escalated(session, ctx.settings, case, now)
    return added


async def return_to_officer(session: AsyncSession, identity: Identity, reference: str, instructions: str, now: datetime) -> None:
    """The Committee sends an escalated case back, with instructions (kept as a note). Commits."""
    instructions = _reason(instructions, "instructions")
    async with session.begin():
        case, _ = await granted_case(session, identity, reference, "return")
        await add_note(session, identity, case, f"Returned by the Audit Committee with instructions: {instructions}", now)
        await audit.record(session, "case.returned", actor_id=identity.staff.id, case_id=case.id, at=now)
        case.escalated_on = None
        await _status(session, identity, case, "investigating", now)


async def take_over(session: AsyncSession, identity: Identity, reference: str, assignee_id: int, now: datetime) -> None:
    """The Committee investigates itself: the case goes to one of its members or to an
    investigator account (outside counsel, say), and the Compliance Officers lose it. Commits."""
    async with session.begin():
        case, case_keys = await granted_case(session, identity, reference, "take-over")
        assignee = await session.get(Staff, assignee_id)
        if assignee is None or not assignee.active or assignee.role not in TAKE_OVER_ROLES:
            raise InvalidInput(fields={"assignee": "Choose a Committee member or an investigator account."})
        await grant_to(session, identity, case, case_keys, assignee, now)
        officers = (
            await session.scalars(
                select(Staff.id)
                .join(Grant, Grant.staff_id == Staff.id)
                .where(Grant.case_id == case.id, Staff.role.in_(["compliance_officer", "investigator"]), Staff.id != assignee.id)
            )
        ).all()
        for staff_id in officers:
            await revoke(session, identity, case, staff_id, now)
        case.assignee_id = assignee.id
        await audit.record(
            session,
            "case.taken_over",
            actor_id=identity.staff.id,
            case_id=case.id,
            detail=f"assigned to staff {assignee.id}",
            at=now,
        )
        if case.status in {"received", "acknowledged", "escalated"}:
            await _status(session, identity, case, "investigating", now)


async def implicate(session: AsyncSession, identity: Identity, reference: str, staff_id: int, now: datetime) -> None:
    """Name a staff member the case implicates: their grant goes at once, and stays gone. Commits."""
    async with session.begin():
        case, _ = await granted_case(session, identity, reference, "implicate")
        staff = await session.get(Staff, staff_id)
        if staff is None or staff.role == "admin":
            raise InvalidInput(fields={"staff": "Choose a staff member."})
        if staff.id == identity.staff.id:
            raise InvalidInput(fields={"staff": "To step aside yourself, recuse."})
        if staff.role in COMMITTEE_ROLES and identity.staff.role not in COMMITTEE_ROLES:
            raise Forbidden("Only another Audit Committee member can name a member as implicated.")
        named = await session.scalar(select(Implicated).where(Implicated.case_id == case.id, Implicated.staff_id == staff.id))
        if named is None:
            session.add(Implicated(case_id=case.id, staff_id=staff.id, named_by=identity.staff.id, named_on=_today(now)))
        else:  # named again after an override: the override ends
            named.overridden = False
        if await session.scalar(select(Grant.id).where(Grant.case_id == case.id, Grant.staff_id == staff.id)):
            await revoke(session, identity, case, staff.id, now)
        if case.assignee_id == staff.id:
            case.assignee_id = None
        await audit.record(
            session, "staff.implicated", actor_id=identity.staff.id, case_id=case.id, detail=f"staff {staff.id}", at=now
        )


async def override_grant(
    session: AsyncSession, identity: Identity, reference: str, staff_id: int, reason: str, now: datetime
) -> None:
    """An Audit Committee member grants a case to someone it implicates, with a logged reason. Commits."""
    reason = _reason(reason)
    async with session.begin():
        case, case_keys = await granted_case(session, identity, reference, "override")
        staff = await session.get(Staff, staff_id)
        if staff is None or not staff.active:
            raise InvalidInput(fields={"staff": "Choose an active staff member."})
        await grant_to(session, identity, case, case_keys, staff, now, override=reason)
