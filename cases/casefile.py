"""A case opened by staff: decrypted in the request, with every opening audited.

The report, the reporter's messages and files and the replies open with the
conversation key; notes, the finding, discipline, protected names, flag records
and the identity with the staff key (``cases/access.py``).
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crypto import boxes, files

from . import audit, disclosure, remediation
from .access import granted_case
from .discipline import Outcome
from .errors import InvalidInput, NoSuchCase
from .exclusion import routing_allows
from .filing import Report
from .identity import Identity
from .lifecycle import Lifecycle, lifecycle_of
from .minutes import MinutesView, minutes_views
from .models import (
    Attachment,
    AuditEntry,
    Case,
    DisciplinaryOutcome,
    Disclosure,
    Finding,
    Grant,
    Implicated,
    Message,
    Minutes,
    ProtectedPerson,
    RemediationAction,
    RetaliationFlag,
    Staff,
)
from .notes import add_note
from .remediation import ActionView
from .retaliation import FlagRow
from .steps import STEPS, allowed_steps
from .timeline import Day, timeline, utc
from .vocabulary import ASSIGNABLE_ROLES, TAKE_OVER_ROLES


@dataclass(frozen=True)
class FileInfo:
    # The file's place among the case's files (1, 2, ...): what its URL carries. Not the row id,
    # a global sequence whose gaps would count the files of cases hidden from the reader.
    number: int
    name: str
    size: int


@dataclass(frozen=True)
class Entry:
    sender: str  # reporter, staff, note or system
    author: str | None
    body: str
    sent_on: date
    retaliation: bool
    attachments: list[FileInfo]


@dataclass(frozen=True)
class Reader:
    email: str
    role: str


@dataclass(frozen=True)
class FindingView:
    outcome: str
    narrative: str
    root_cause: str | None  # a code of vocabulary.ROOT_CAUSES
    explanation: str  # of the root cause, sealed
    decided_by: str
    decided_on: date


@dataclass(frozen=True)
class ProtectedView:
    name: str
    role: str
    added_on: date


@dataclass(frozen=True)
class Candidate:
    """A staff member a step can name (assign to, take over to, implicate, grant despite a conflict)."""

    id: int
    email: str
    role: str


@dataclass(frozen=True)
class CaseFile:
    case: Case
    report: Report
    attachments: list[FileInfo]
    thread: list[Entry]
    readers: list[Reader]
    finding: FindingView | None
    outcomes: list[Outcome] = field(default_factory=list)
    protected: list[ProtectedView] = field(default_factory=list)
    flags: list[FlagRow] = field(default_factory=list)
    implicated: list[str] = field(default_factory=list)
    # Minutes of calls and meetings with the reporter, with the reporter's answer (cases/minutes.py).
    minutes: list[MinutesView] = field(default_factory=list)
    remediation: list[ActionView] = field(default_factory=list)
    disclosures: list[disclosure.DisclosureView] = field(default_factory=list)
    # The steps the reader may take now, and whom each step that names a colleague can name.
    steps: frozenset[str] = frozenset()
    candidates: dict[str, list[Candidate]] = field(default_factory=dict)
    # The assessment, closure and links (cases/lifecycle.py); the plan and the referral are opened here only.
    lifecycle: Lifecycle | None = None
    plan: str = ""
    referral: str = ""
    # The case's steps by day (cases/timeline.py): labels and who acted, never content.
    timeline: list[Day] = field(default_factory=list)
    # Whether the reporter gave a name or a contact (see open_case: not a reveal).
    # Whether the reporter gave a name; None for a reader who may not reveal it (not told either way).
    gave_name: bool | None = None
    # The name and contact, to the staff member who revealed them, until ``revealed_until``.
    revealed: dict | None = None
    revealed_until: datetime | None = None

    def __repr__(self) -> str:
        return f"CaseFile({self.case.reference})"


def _file_info(case_key, attachment: Attachment) -> FileInfo:
    meta = boxes.unseal_json(case_key, attachment.meta_box)
    return FileInfo(attachment.number, meta["name"], meta["size"])


async def open_case(session: AsyncSession, identity: Identity, reference: str, now: datetime) -> CaseFile:
    """Decrypt a case for a grant holder (not the reporter's identity: see ``reveal_identity``). Commits."""
    async with session.begin():
        case, case_keys = await granted_case(session, identity, reference, "view")
        emails = dict((await session.execute(select(Staff.id, Staff.email))).all())
        messages = (await session.scalars(select(Message).where(Message.case_id == case.id).order_by(Message.number))).all()
        attachments = (
            await session.scalars(select(Attachment).where(Attachment.case_id == case.id).order_by(Attachment.number))
        ).all()
        readers = (
            await session.execute(
                select(Staff.email, Staff.role).join(Grant, Grant.staff_id == Staff.id).where(Grant.case_id == case.id)
            )
        ).all()
        finding = await session.scalar(select(Finding).where(Finding.case_id == case.id))
        outcomes = (
            await session.scalars(
                select(DisciplinaryOutcome).where(DisciplinaryOutcome.case_id == case.id).order_by(DisciplinaryOutcome.id)
            )
        ).all()
        protected = (
            await session.scalars(select(ProtectedPerson).where(ProtectedPerson.case_id == case.id).order_by(ProtectedPerson.id))
        ).all()
        flags = (
            await session.scalars(
                select(RetaliationFlag).where(RetaliationFlag.case_id == case.id).order_by(RetaliationFlag.number)
            )
        ).all()
        disclosed = (await session.scalars(select(Disclosure).where(Disclosure.case_id == case.id).order_by(Disclosure.id))).all()
        actions = (
            await session.scalars(
                select(RemediationAction).where(RemediationAction.case_id == case.id).order_by(RemediationAction.number)
            )
        ).all()
        minutes = (await session.scalars(select(Minutes).where(Minutes.case_id == case.id).order_by(Minutes.number))).all()
        implicated = (
            await session.scalars(
                select(Staff.email).join(Implicated, Implicated.staff_id == Staff.id).where(Implicated.case_id == case.id)
            )
        ).all()
        staff = (
            await session.scalars(
                select(Staff).where(Staff.active.is_(True), Staff.role.in_(ASSIGNABLE_ROLES)).order_by(Staff.email)
            )
        ).all()
        history = await timeline(session, case, emails)
        revealed_at = None
        if identity.staff.role in STEPS["reveal"].roles:  # a reveal by someone whose role no longer may shows nothing
            revealed_at = await session.scalar(
                select(func.max(AuditEntry.at)).where(
                    AuditEntry.case_id == case.id,
                    AuditEntry.actor_id == identity.staff.id,
                    AuditEntry.action == "identity.revealed",
                )
            )
        lifecycle = await lifecycle_of(session, identity, case)
        await audit.record(session, "case.viewed", actor_id=identity.staff.id, case_id=case.id, at=now)

    case_key, staff_key = case_keys.conversation, case_keys.staff_only
    # Opened with the staff key, for those who may reveal it, for one boolean only: "did the reporter
    # give a name" (it decides how the team may contact and protect the reporter, and it names nobody).
    # The name and contact stay unread unless this reader revealed them, logged with a reason, within
    # the last REVEAL_WINDOW: then the page shows them again (post/redirect/get: a reload neither
    # reveals nor logs a second time). Not a reveal, so no entry. Other holders are not told either way.
    may_reveal = "reveal" in allowed_steps(identity.staff.role, case)
    reporter = boxes.unseal_json(staff_key, case.identity_box) if may_reveal else {}
    until = utc(revealed_at) + REVEAL_WINDOW if revealed_at is not None else None
    shown = until is not None and utc(now) < until
    by_message: dict[int | None, list[FileInfo]] = {}
    for attachment in attachments:
        by_message.setdefault(attachment.message_id, []).append(_file_info(case_key, attachment))
    thread = [
        Entry(
            sender=m.sender,
            author=emails.get(m.staff_id) if m.staff_id is not None else None,
            body=boxes.unseal(staff_key if m.sender == "note" else case_key, m.body_box).decode(),
            sent_on=m.sent_on,
            retaliation=m.retaliation,
            attachments=by_message.get(m.id, []),
        )
        for m in messages
    ]
    finding_view = None
    if finding is not None:
        finding_view = FindingView(
            outcome=finding.outcome,
            narrative=_text(staff_key, finding.narrative_box),
            root_cause=finding.root_cause,
            explanation=_text(staff_key, finding.root_cause_box),
            decided_by=emails.get(finding.decided_by, ""),
            decided_on=finding.decided_on,
        )
    return CaseFile(
        case=case,
        report=Report.unsealed(boxes.unseal_json(case_key, case.report_box)),
        attachments=by_message.get(None, []),
        thread=thread,
        readers=[Reader(email, role) for email, role in readers],
        finding=finding_view,
        outcomes=[
            Outcome(
                _text(staff_key, o.subject_box),
                o.subject_role,
                o.subject_type,
                o.action,
                o.effective_on,
                o.decided_by,
                _text(staff_key, o.notes_box),
            )
            for o in outcomes
        ],
        protected=[ProtectedView(_text(staff_key, p.name_box), p.role, p.added_on) for p in protected],
        flags=[
            FlagRow.of(f, case.reference, record=_text(staff_key, f.resolution_box) if f.resolution_box else "") for f in flags
        ],
        implicated=list(implicated),
        minutes=minutes_views(minutes, case_key, emails),
        remediation=remediation.views(list(actions), staff_key, emails, now.date()),
        disclosures=disclosure.views(list(disclosed), staff_key, emails),
        steps=allowed_steps(identity.staff.role, case),
        candidates=_candidates(identity, case, [Candidate(s.id, s.email, s.role) for s in staff]),
        lifecycle=lifecycle,
        plan=_text(staff_key, case.plan_box) if case.plan_box else "",
        referral=_text(staff_key, case.referral_box) if case.referral_box else "",
        timeline=history,
        gave_name=bool(reporter.get("name") or reporter.get("contact")) if may_reveal else None,
        revealed=reporter if shown else None,
        revealed_until=until if shown else None,
    )


def _candidates(identity: Identity, case: Case, staff: list[Candidate]) -> dict[str, list[Candidate]]:
    """Whom each step may name: a leadership report never goes to a Compliance Officer, the Committee
    takes over to its members or an investigator account, and nobody names themself as implicated."""
    return {
        "assign": [s for s in staff if routing_allows(case, s.role)],
        "take-over": [s for s in staff if s.role in TAKE_OVER_ROLES],
        "implicate": [s for s in staff if s.id != identity.staff.id],
        "override": staff,
        "remediate": staff,  # offered as owners; an outside party is typed in
    }


def _text(key, box: bytes) -> str:
    return boxes.unseal(key, box).decode()


# How long the case page shows a revealed identity to the staff member who revealed it.
REVEAL_WINDOW = timedelta(minutes=10)


async def reveal_identity(session: AsyncSession, identity: Identity, reference: str, reason: str, now: datetime) -> dict:
    """The reporter's name and contact ({} when anonymous); logged with the reason. Commits."""
    reason = reason.strip()
    if len(reason) < 5:
        raise InvalidInput(fields={"reason": "Say why you need the reporter's identity."})
    async with session.begin():
        case, case_keys = await granted_case(session, identity, reference, "reveal")
        await audit.record(session, "identity.revealed", actor_id=identity.staff.id, case_id=case.id, at=now)
        await add_note(session, identity, case, f"Revealed the reporter's identity: {reason}", now)
    return boxes.unseal_json(case_keys.staff_only, case.identity_box)


@dataclass(frozen=True)
class Download:
    name: str
    data: bytes

    def __repr__(self) -> str:
        return f"Download(<{len(self.data)} bytes>)"


async def download(session: AsyncSession, identity: Identity, reference: str, number: int, now: datetime) -> Download:
    """The case's file ``number`` (its number within the case), decrypted; logged. Commits."""
    async with session.begin():
        case, case_keys = await granted_case(session, identity, reference, "download")
        attachment = await session.scalar(select(Attachment).where(Attachment.case_id == case.id, Attachment.number == number))
        if attachment is None:
            raise NoSuchCase("There is no such file in this case.")
        await audit.record(
            session, "attachment.downloaded", actor_id=identity.staff.id, case_id=case.id, detail=f"file {number}", at=now
        )
    meta = boxes.unseal_json(case_keys.conversation, attachment.meta_box)
    return Download(meta["name"], files.decrypt(bytes.fromhex(meta["key"]), attachment.blob, meta["size"]))
