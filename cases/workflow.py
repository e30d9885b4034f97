"""Steps staff take on a case: acknowledge, write, assign, recuse, move it on, conclude.

Each step checks role and grant, changes the case, and writes its audit
entries in the same transaction. Content (messages, notes, findings) is
sealed to the case's public key like everything else.
"""

from datetime import UTC, datetime

from nacl.public import PublicKey
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crypto import boxes

from . import audit, deadlines
from .access import MANAGING_ROLES, granted_case, require_role
from .grants import grant_to, revoke
from .auth import Identity
from .context import Context
from .errors import InvalidInput, SpeakupError
from .mailbox import check_message
from .models import FINDINGS, Case, Finding, Grant, Message, Staff

# Who may be assigned a case, and the order a case moves in.
ASSIGNABLE_ROLES = ("investigator", "compliance_officer", "audit_committee")
TRANSITIONS = {
    "investigate": ({"acknowledged"}, "investigating"),
    "close": ({"concluded"}, "closed"),
}
ROOT_CAUSE_NEEDED = {"substantiated", "partly_substantiated"}


class WrongStatus(SpeakupError):
    status = 409
    code = "wrong_status"
    detail = "The case is not in a status that allows this."


def _today(now: datetime):
    return now.astimezone(UTC).date()


async def _status(session: AsyncSession, identity: Identity, case: Case, new: str, now: datetime) -> None:
    await audit.record(
        session, "status.changed", actor_id=identity.staff.id, case_id=case.id, detail=f"{case.status} -> {new}", at=now
    )
    case.status = new


async def acknowledge(session: AsyncSession, ctx: Context, identity: Identity, reference: str, now: datetime) -> None:
    """Acknowledge receipt; the feedback deadline now runs from today. Commits."""
    settings = ctx.settings
    async with session.begin():
        case, _ = await granted_case(session, identity, reference, roles=MANAGING_ROLES)
        if case.status != "received":
            raise WrongStatus("This report has been acknowledged already.")
        case.acknowledged_on = _today(now)
        case.feedback_by = deadlines.feedback_by(
            case.received_on, case.acknowledged_on, days=settings.acknowledge_days, months=settings.feedback_months
        )
        await _status(session, identity, case, "acknowledged", now)


async def move(session: AsyncSession, identity: Identity, reference: str, step: str, now: datetime) -> None:
    """Take a plain workflow step (``investigate``, ``close``). Commits."""
    if step not in TRANSITIONS:
        raise InvalidInput(fields={"step": "Unknown step."})
    allowed, new = TRANSITIONS[step]
    async with session.begin():
        case, _ = await granted_case(session, identity, reference, roles=MANAGING_ROLES)
        if case.status not in allowed:
            raise WrongStatus()
        if new == "closed":
            case.closed_on = _today(now)
        await _status(session, identity, case, new, now)


async def write(session: AsyncSession, identity: Identity, reference: str, body: str, *, note: bool, now: datetime) -> None:
    """A reply the reporter will read, or (``note``) an internal note they never see. Commits."""
    body = check_message(body, [])
    async with session.begin():
        case, _ = await granted_case(session, identity, reference)
        session.add(
            Message(
                case_id=case.id,
                sender="note" if note else "staff",
                staff_id=identity.staff.id,
                sent_on=_today(now),
                body_box=boxes.seal(PublicKey(case.public_key), body.encode("utf-8")),
            )
        )
        await audit.record(
            session, "note.added" if note else "message.sent", actor_id=identity.staff.id, case_id=case.id, at=now
        )


async def conclude(
    session: AsyncSession, identity: Identity, reference: str, outcome: str, narrative: str, root_cause: str, now: datetime
) -> None:
    """Record the finding and conclude the investigation. Commits."""
    narrative, root_cause = narrative.strip(), root_cause.strip()
    errors = {}
    if outcome not in FINDINGS:
        errors["outcome"] = "Choose a finding."
    if not narrative:
        errors["narrative"] = "Write what the investigation found."
    if outcome in ROOT_CAUSE_NEEDED and not root_cause:
        errors["root_cause"] = "A substantiated finding needs its root cause."
    if errors:
        raise InvalidInput(fields=errors)
    async with session.begin():
        case, _ = await granted_case(session, identity, reference, roles=MANAGING_ROLES)
        if case.status not in {"investigating", "escalated"}:
            raise WrongStatus("Only a case under investigation can be concluded.")
        public = PublicKey(case.public_key)
        session.add(
            Finding(
                case_id=case.id,
                outcome=outcome,
                narrative_box=boxes.seal(public, narrative.encode()),
                root_cause_box=boxes.seal(public, root_cause.encode()),
                decided_by=identity.staff.id,
                decided_on=_today(now),
            )
        )
        await audit.record(session, "finding.recorded", actor_id=identity.staff.id, case_id=case.id, detail=outcome, at=now)
        await _status(session, identity, case, "concluded", now)


async def assign(session: AsyncSession, identity: Identity, reference: str, assignee_id: int, now: datetime) -> None:
    """Give the case to a staff member (sealing the case key to them); a replaced investigator loses it. Commits."""
    async with session.begin():
        case, case_key = await granted_case(session, identity, reference, roles=MANAGING_ROLES)
        staff = await session.get(Staff, assignee_id)
        if staff is None or not staff.active or staff.role not in ASSIGNABLE_ROLES:
            raise InvalidInput(fields={"assignee": "Choose an active investigator or case handler."})
        await grant_to(session, identity, case, case_key, staff, now)
        previous = await session.get(Staff, case.assignee_id) if case.assignee_id else None
        if previous is not None and previous.id != staff.id and previous.role == "investigator":
            await revoke(session, identity, case, previous.id, now)
        case.assignee_id = staff.id
        await audit.record(session, "case.assigned", actor_id=identity.staff.id, case_id=case.id, detail=f"staff {staff.id}", at=now)


async def recuse(session: AsyncSession, identity: Identity, reference: str, now: datetime) -> None:
    """Give up one's own grant (a conflict of interest, say). Commits."""
    async with session.begin():
        case, _ = await granted_case(session, identity, reference)
        holders = await session.scalar(
            select(func.count()).select_from(Grant).where(Grant.case_id == case.id, Grant.holder == "staff")
        )
        if holders <= 1:
            raise InvalidInput(fields={"recuse": "You are the only one holding this case: assign it to someone else first."})
        if case.assignee_id == identity.staff.id:
            case.assignee_id = None
        await revoke(session, identity, case, identity.staff.id, now)
        await audit.record(session, "case.recused", actor_id=identity.staff.id, case_id=case.id, at=now)


async def hand_over(
    session: AsyncSession, identity: Identity, leaver_id: int, successor_id: int, now: datetime
) -> tuple[list[str], list[str]]:
    """Move all open cases of a leaver to a successor: grant, revoke, reassign. Commits.

    Returns (moved references, references the actor could not move because they
    hold no grant for them: those need a holder such as the Audit Committee).
    """
    require_role(identity, MANAGING_ROLES)
    moved, skipped = [], []
    async with session.begin():
        successor = await session.get(Staff, successor_id)
        if successor is None or not successor.active or successor.role not in ASSIGNABLE_ROLES or successor_id == leaver_id:
            raise InvalidInput(fields={"successor": "Choose another active case handler."})
        references = (
            await session.scalars(
                select(Case.reference)
                .join(Grant, Grant.case_id == Case.id)
                .where(Grant.staff_id == leaver_id, Case.status != "closed")
                .order_by(Case.reference)
            )
        ).all()
        for reference in references:
            try:
                case, case_key = await granted_case(session, identity, reference, roles=MANAGING_ROLES)
            except SpeakupError:
                skipped.append(reference)
                continue
            try:
                await grant_to(session, identity, case, case_key, successor, now)
            except SpeakupError:  # routing or a conflict of interest forbids it
                skipped.append(reference)
                continue
            await revoke(session, identity, case, leaver_id, now)
            if case.assignee_id in (None, leaver_id):
                case.assignee_id = successor.id
            await audit.record(session, "case.handed_over", actor_id=identity.staff.id, case_id=case.id,
                               detail=f"staff {leaver_id} -> staff {successor.id}", at=now)
            moved.append(reference)
    return moved, skipped
