"""Steps staff take on a case: acknowledge, write, assign, recuse, move it on, conclude.

Each step checks role and grant, changes the case, and writes its audit
entries in the same transaction. Replies to the reporter are sealed to the
case's conversation key; notes and findings to its staff key, which the
reporter's receipt does not open.
"""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from nacl.public import PublicKey
from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from crypto import boxes

from . import audit, deadlines, steps
from .access import granted_case, require_role, staff_public_key
from .content import Upload, check_uploads, seal_uploads
from .context import Context
from .errors import Forbidden, InvalidInput, NoSuchCase, SpeakupError
from .exclusion import visible_clause
from .follow_up import check_message
from .grants import grant_to, readers, revoke
from .identity import Identity
from .models import Attachment, AuditEntry, Case, Finding, Grant, Message, Staff
from .notes import add_note
from .numbers import add_numbered
from .settings import Settings
from .timeline import utc
from .vocabulary import ASSIGNABLE_ROLES, COMMITTEE_ROLES, FINDINGS, MANAGING_ROLES, ROOT_CAUSE_NEEDED, ROOT_CAUSES

# Plain steps: the status each one leads to (``cases/steps.py`` says from where).
# Closing is not plain: it carries a closure code and a message (``cases/lifecycle.py``).
TRANSITIONS = {"investigate": "investigating"}


@dataclass(frozen=True)
class FindingDraft:
    """A finding as staff submit it, checked by ``parse``."""

    outcome: str
    narrative: str
    # A code of ROOT_CAUSES, plain so it can be counted ("" when none); the explanation is sealed.
    root_cause: str = ""
    explanation: str = ""

    def __repr__(self) -> str:  # the narrative is case content
        return f"FindingDraft(outcome={self.outcome!r}, root_cause={self.root_cause!r})"

    @classmethod
    def parse(cls, outcome: str, narrative: str, root_cause: str = "", explanation: str = "") -> "FindingDraft":
        """Raises ``InvalidInput`` naming each bad field.

        A substantiated (or partly substantiated) finding needs a root-cause code and its
        explanation; any other may carry a code too (an inconclusive investigation can still
        find a weak control), but never a code outside the taxonomy."""
        narrative, root_cause, explanation = narrative.strip(), root_cause.strip(), explanation.strip()
        errors = {}
        if outcome not in FINDINGS:
            errors["outcome"] = "Choose a finding."
        if not narrative:
            errors["narrative"] = "Write what the investigation found."
        if root_cause and root_cause not in ROOT_CAUSES:
            errors["root_cause"] = "Choose a root cause from the list."
        elif outcome in ROOT_CAUSE_NEEDED and not root_cause:
            errors["root_cause"] = "A substantiated finding needs its root cause: choose one."
        if outcome in ROOT_CAUSE_NEEDED and not explanation:
            errors["root_cause_explanation"] = "Explain the root cause of a substantiated finding."
        if errors:
            raise InvalidInput(fields=errors)
        return cls(outcome, narrative, root_cause, explanation)


def _today(now: datetime) -> date:
    return now.astimezone(UTC).date()


async def _status(session: AsyncSession, identity: Identity, case: Case, new: str, now: datetime) -> None:
    await audit.record(
        session, "status.changed", actor_id=identity.staff.id, case_id=case.id, detail=f"{case.status} -> {new}", at=now
    )
    case.status = new


async def acknowledge(session: AsyncSession, ctx: Context, identity: Identity, reference: str, now: datetime) -> None:
    """Acknowledge receipt; the feedback deadline now runs from today. Commits."""
    async with session.begin():
        case, _ = await granted_case(session, identity, reference, "acknowledge")
        await acknowledge_in(session, ctx.settings, identity, case, now)


async def acknowledge_in(session: AsyncSession, settings: Settings, identity: Identity, case: Case, now: datetime) -> None:
    """Acknowledge inside the caller's transaction: the step itself, or an assessment made with it."""
    case.acknowledged_on = _today(now)
    case.feedback_by = deadlines.feedback_by(
        case.received_on, case.acknowledged_on, days=settings.acknowledge_days, months=settings.feedback_months
    )
    await _status(session, identity, case, "acknowledged", now)


async def move(session: AsyncSession, identity: Identity, reference: str, step: str, now: datetime) -> None:
    """Take a plain workflow step (``investigate``). Commits."""
    new = TRANSITIONS[step]
    async with session.begin():
        case, _ = await granted_case(session, identity, reference, step)
        await _status(session, identity, case, new, now)


async def write(
    session: AsyncSession,
    identity: Identity,
    reference: str,
    body: str,
    *,
    note: bool,
    now: datetime,
    feedback: bool = False,
    uploads: Sequence[Upload] = (),
    settings: Settings | None = None,
) -> None:
    """A reply the reporter will read, or (``note``) an internal note they never see. Commits.

    ``feedback``: the reply is the feedback the EU Directive requires (Art. 9(1)(f)); the first
    one sets ``case.feedback_given_on``, and the feedback deadline counts as met from then on.
    ``uploads``: files of a reply, within ``settings``' limits, sealed like the reporter's
    (to the conversation key, so the reporter's receipt lists them).
    """
    if note and (feedback or uploads):
        raise InvalidInput(fields={"body": "An internal note carries no files and is no feedback."})
    body = check_message(body, list(uploads))
    attachments: list[Attachment] = []
    if uploads:
        assert settings is not None, "uploads need the settings' limits"
        check_uploads(list(uploads), settings)
        steps.check_role(identity.staff.role, "reply")  # no sealing work for a role that may not reply
        async with session.begin():  # nor for a case this reader does not hold (it answers as an unknown one)
            case, _ = await granted_case(session, identity, reference, "view")
        # Encrypted before the write transaction, as the reporter's are: the case lock waits on no file.
        attachments = await asyncio.to_thread(seal_uploads, PublicKey(case.public_key), list(uploads))
    async with session.begin():
        case, _ = await granted_case(session, identity, reference, "note" if note else "reply")
        if note:
            await add_note(session, identity, case, body, now)
        else:
            await add_reply(session, identity, case, body, _today(now), feedback=feedback, attachments=attachments)
        await audit.record(session, "note.added" if note else "message.sent", actor_id=identity.staff.id, case_id=case.id, at=now)
        if feedback:
            await audit.record(session, "feedback.given", actor_id=identity.staff.id, case_id=case.id, at=now)


async def add_reply(
    session: AsyncSession,
    identity: Identity,
    case: Case,
    body: str,
    today: date,
    *,
    feedback: bool = False,
    attachments: Sequence[Attachment] = (),
) -> None:
    """A message to the reporter, sealed to the conversation key, inside the caller's transaction
    (which holds the case through ``granted_case``). A feedback reply meets the feedback deadline:
    the first one sets ``case.feedback_given_on``."""
    for attachment in attachments:
        attachment.case_id = case.id
    await add_numbered(
        session,
        Message(
            case_id=case.id,
            sender="staff",
            staff_id=identity.staff.id,
            sent_on=today,
            feedback=feedback,
            body_box=boxes.seal(PublicKey(case.public_key), body.encode("utf-8")),
            attachments=list(attachments),
        ),
    )
    if feedback and case.feedback_given_on is None:
        case.feedback_given_on = today


async def conclude(session: AsyncSession, identity: Identity, reference: str, finding: FindingDraft, now: datetime) -> None:
    """Record the finding and conclude the investigation. Commits."""
    async with session.begin():
        case, _ = await granted_case(session, identity, reference, "conclude")
        public = staff_public_key(case)
        session.add(
            Finding(
                case_id=case.id,
                outcome=finding.outcome,
                narrative_box=boxes.seal(public, finding.narrative.encode()),
                root_cause=finding.root_cause or None,
                root_cause_box=boxes.seal(public, finding.explanation.encode()),
                decided_by=identity.staff.id,
                decided_on=_today(now),
            )
        )
        await audit.record(
            session, "finding.recorded", actor_id=identity.staff.id, case_id=case.id, detail=finding.outcome, at=now
        )
        await _status(session, identity, case, "concluded", now)


async def assign(session: AsyncSession, identity: Identity, reference: str, assignee_id: int, now: datetime) -> None:
    """Give the case to a staff member (sealing the case key to them); a replaced investigator loses it. Commits."""
    async with session.begin():
        case, case_keys = await granted_case(session, identity, reference, "assign")
        staff = await session.get(Staff, assignee_id)
        if staff is None or not staff.active or staff.role not in ASSIGNABLE_ROLES:
            raise InvalidInput(fields={"assignee": "Choose an active investigator or case handler."})
        await grant_to(session, identity, case, case_keys, staff, now)
        previous = await session.get(Staff, case.assignee_id) if case.assignee_id else None
        if previous is not None and previous.id != staff.id and previous.role == "investigator":
            await revoke(session, identity, case, previous.id, now)
        case.assignee_id = staff.id
        await audit.record(
            session, "case.assigned", actor_id=identity.staff.id, case_id=case.id, detail=f"staff {staff.id}", at=now
        )


async def recuse(session: AsyncSession, identity: Identity, reference: str, now: datetime) -> None:
    """Give up one's own grant (a conflict of interest, say). Commits."""
    async with session.begin():
        case, _ = await granted_case(session, identity, reference, "recuse")
        if await readers(session, case) <= 1:
            raise InvalidInput(fields={"recuse": "You are the only one holding this case: assign it to someone else first."})
        if case.assignee_id == identity.staff.id:
            case.assignee_id = None
        await revoke(session, identity, case, identity.staff.id, now)
        await audit.record(session, "case.recused", actor_id=identity.staff.id, case_id=case.id, at=now)


async def hand_over(
    session: AsyncSession, identity: Identity, leaver_id: int, successor_id: int, now: datetime, *, confirmed: bool
) -> tuple[list[str], list[str]]:
    """Move the open cases of a leaver that the actor holds too to a successor: grant, revoke, reassign. Commits.

    Returns (moved references, references the actor holds but could not move: routing
    or a conflict of interest forbids the successor). Cases the actor does not hold are
    neither moved nor named. Only the Audit Committee hands over one of its members' cases.
    """
    require_role(identity, MANAGING_ROLES)
    steps.require_confirmation(confirmed)  # grants given and taken away in bulk: not undone by a click
    moved, skipped = [], []
    async with session.begin():
        leaver = await session.get(Staff, leaver_id)
        successor = await session.get(Staff, successor_id)
        if leaver is None or leaver_id == successor_id:
            raise InvalidInput(fields={"successor": "Choose who leaves and another who takes over."})
        if successor is None or not successor.active or successor.role not in ASSIGNABLE_ROLES:
            raise InvalidInput(fields={"successor": "Choose another active case handler."})
        if leaver.role in COMMITTEE_ROLES and identity.staff.role not in COMMITTEE_ROLES:
            raise Forbidden("Only the Audit Committee can hand over one of its members' cases.")
        leavers, actors = aliased(Grant), aliased(Grant)
        references = (
            await session.scalars(
                select(Case.reference)
                .join(leavers, and_(leavers.case_id == Case.id, leavers.staff_id == leaver_id))
                .join(actors, and_(actors.case_id == Case.id, actors.staff_id == identity.staff.id))
                .where(Case.status != "closed")
                .order_by(Case.reference)
            )
        ).all()
        for reference in references:
            try:
                case, case_keys = await granted_case(session, identity, reference, "assign")
            except (NoSuchCase, Forbidden):  # a routing or a conflict hides it from the actor: not theirs to name
                continue
            try:
                async with session.begin_nested():  # a refusal undoes this case's changes only
                    await grant_to(session, identity, case, case_keys, successor, now)
                    await revoke(session, identity, case, leaver_id, now)
            except SpeakupError:  # routing or a conflict of interest forbids the successor
                skipped.append(reference)
                continue
            if case.assignee_id in (None, leaver_id):
                case.assignee_id = successor.id
            await audit.record(
                session,
                "case.handed_over",
                actor_id=identity.staff.id,
                case_id=case.id,
                detail=f"staff {leaver_id} -> staff {successor.id}",
                at=now,
            )
            moved.append(reference)
    return moved, skipped


# How long the team page still reports a hand-over after its redirect.
HAND_OVER_SHOWN = timedelta(minutes=10)


async def hand_over_result(
    session: AsyncSession, identity: Identity, leaver_id: int, successor_id: int, now: datetime
) -> tuple[list[str], list[str]] | None:
    """What this actor's latest hand-over from ``leaver_id`` to ``successor_id`` did, for the page its
    redirect leads to (post/redirect/get): the references moved (its audit entries, all of one moment),
    and the leaver's open cases the actor holds and may see that are still the leaver's (not moved).
    None when there was no such hand-over in the last HAND_OVER_SHOWN."""
    require_role(identity, MANAGING_ROLES)
    detail = f"staff {leaver_id} -> staff {successor_id}"
    async with session.begin():
        mine = and_(AuditEntry.actor_id == identity.staff.id, AuditEntry.action == "case.handed_over")
        latest = await session.scalar(select(func.max(AuditEntry.at)).where(mine, AuditEntry.detail == detail))
        if latest is None or utc(latest) < now - HAND_OVER_SHOWN:
            return None
        moved = await session.scalars(
            select(Case.reference)
            .join(AuditEntry, AuditEntry.case_id == Case.id)
            .where(mine, AuditEntry.detail == detail, AuditEntry.at >= latest)  # the latest is the maximum
            .order_by(Case.reference)
        )
        leavers, actors = aliased(Grant), aliased(Grant)
        left = await session.scalars(
            select(Case.reference)
            .join(leavers, and_(leavers.case_id == Case.id, leavers.staff_id == leaver_id))
            .join(actors, and_(actors.case_id == Case.id, actors.staff_id == identity.staff.id))
            .where(Case.status != "closed", visible_clause(identity.staff.id, identity.staff.role))
            .order_by(Case.reference)
        )
        return list(moved), list(left)


async def assignable(session: AsyncSession) -> list[Staff]:
    """Active staff a case can be given to, by e-mail."""
    async with session.begin():
        return list(
            await session.scalars(
                select(Staff).where(Staff.active.is_(True), Staff.role.in_(ASSIGNABLE_ROLES)).order_by(Staff.email)
            )
        )


@dataclass(frozen=True)
class Team:
    members: list[Staff]  # every account, by e-mail
    leavers: list[Staff]  # whose cases can be handed over: anyone but an administrator
    successors: list[Staff]  # who can take them: active case handlers


async def team(session: AsyncSession, identity: Identity) -> Team:
    """The staff a case manager sees on the hand-over page."""
    require_role(identity, MANAGING_ROLES)
    async with session.begin():
        members = list(await session.scalars(select(Staff).order_by(Staff.email)))
    return Team(
        members,
        [s for s in members if s.role != "admin"],
        [s for s in members if s.active and s.role in ASSIGNABLE_ROLES],
    )
