"""What staff are told by mail, and when. Every mail goes through the outbox.

A mail says only that something needs attention, with a link to the staff
site; never a category, a summary, a name or anything of the reporter. The
case reference appears only when ``mail_case_reference`` is on. No reporter
is ever mailed: Speakup holds no reporter address (a confidential reporter's
contact is sealed in the case).

Mails a reporter's action causes (a new report, a retaliation flag) go out
the next day, at the digest hour, with everything else that day's reporters
caused, and are stamped with the date only: neither the outbox nor a mail
server's log can tell when in its day the reporter acted. Staff see the new
case or flag on the site at once; only the mail waits.
"""

from collections.abc import Collection
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, func, not_, select
from sqlalchemy.ext.asyncio import AsyncSession

from . import deadlines, remediation
from .exclusion import implicated_clause, visible_clause
from .grants import readers_clause
from .models import AuditHead, Case, Grant, OutboxMail, RemediationAction, RetaliationFlag, Staff
from .settings import Settings
from .vocabulary import (
    ACKNOWLEDGE_SOON,
    CASE_ROLES,
    COMMITTEE_ROLES,
    FEEDBACK_SOON,
    MANAGING_ROLES,
    OPEN_STATUSES,
    RECEIVING_ROLES,
)

# Kinds of mail a reporter's action can cause (a new report; a flag they raise). Held to the next
# day's digest hour, and once sent their row keeps the day only (cases/outbox.py).
REPORTER_KINDS = frozenset({"new_report", "retaliation"})


def _next_day(settings: Settings, today: date) -> datetime:
    """When the mails a reporter caused today go: tomorrow at the digest hour, whatever the hour now."""
    return datetime.combine(today + timedelta(days=1), time(settings.digest_hour), tzinfo=UTC)


def _about(settings: Settings, reference: str) -> str:
    return f" ({reference})" if settings.mail_case_reference else ""


async def enqueue(
    session: AsyncSession,
    settings: Settings,
    recipients: list[str],
    kind: str,
    subject: str,
    text: str,
    now: datetime,
    *,
    dedupe: str | None = None,
    reporter_caused: bool = False,
) -> int:
    """Add one mail per recipient inside the caller's transaction. Returns how many were new."""
    added = 0
    for recipient in sorted(set(recipients)):
        key = f"{dedupe}:{recipient}" if dedupe else None
        if key and await session.scalar(select(OutboxMail.id).where(OutboxMail.dedupe_key == key)) is not None:
            continue
        send_at = _next_day(settings, now.date()) if reporter_caused else now
        session.add(
            OutboxMail(
                recipient=recipient,
                subject=subject,
                kind=kind,
                dedupe_key=key,
                body=f"{text}\n\n{settings.base_url}/staff/\n\nThis mail carries no case content. Log in to see the case.\n",
                created_at=datetime.combine(now.date(), time(0), tzinfo=UTC) if reporter_caused else now,
                next_attempt_at=send_at,
                attempts=0,
                last_error="",
            )
        )
        added += 1
    return added


async def _holders(session: AsyncSession, case_id: int, roles: Collection[str]) -> list[str]:
    return list(
        (
            await session.scalars(
                select(Staff.email)
                .join(Grant, Grant.staff_id == Staff.id)
                .join(Case, Case.id == Grant.case_id)
                .where(readers_clause(case_id), Staff.role.in_(roles))
            )
        ).all()
    )


async def _committee(session: AsyncSession, case_id: int) -> list[str]:
    """The active Committee members, but those the case implicates."""
    members = select(Staff.email).where(
        Staff.role.in_(COMMITTEE_ROLES), Staff.active.is_(True), not_(implicated_clause(Staff.id, case_id))
    )
    return list((await session.scalars(members)).all())


async def new_report(session: AsyncSession, settings: Settings, case: Case, now: datetime) -> None:
    recipients = await _holders(session, case.id, CASE_ROLES)
    await enqueue(
        session,
        settings,
        recipients,
        "new_report",
        "Speakup: a new report has arrived",
        f"A new report{_about(settings, case.reference)} has arrived and is yours to read.",
        now,
        reporter_caused=True,
    )


async def escalated(session: AsyncSession, settings: Settings, case: Case, now: datetime) -> None:
    await enqueue(
        session,
        settings,
        await _committee(session, case.id),
        "escalation",
        "Speakup: a case was escalated to the Audit Committee",
        f"A case{_about(settings, case.reference)} has been escalated to the Audit Committee.",
        now,
    )


async def case_officers(session: AsyncSession, case_id: int) -> list[str]:
    """The active Compliance Officers who hold the case and may read it (routing and conflicts checked)."""
    return await _holders(session, case_id, ("compliance_officer",))


async def escalation_requested(session: AsyncSession, settings: Settings, case: Case, officers: list[str], now: datetime) -> None:
    """The Audit Committee asks, from its register, that the case be escalated (cases/register.py)."""
    await enqueue(
        session,
        settings,
        officers,
        "escalation_requested",
        "Speakup: the Audit Committee asks for a case to be escalated",
        f"An Audit Committee member asks that a case{_about(settings, case.reference)} be escalated to the Committee. "
        "Open it and escalate it, or tell the Committee why not.",
        now,
    )


async def retaliation_flag(
    session: AsyncSession, settings: Settings, case: Case, now: datetime, *, reporter_caused: bool
) -> None:
    """At once, to the Compliance Officer holding the case and the Committee; for a case routed
    to the Committee, to the Committee alone."""
    recipients = await _committee(session, case.id)
    if case.routing != "audit_committee":
        recipients += await _holders(session, case.id, ("compliance_officer",))
    await enqueue(
        session,
        settings,
        recipients,
        "retaliation",
        "Speakup: someone may be facing retaliation",
        f"A retaliation flag{_about(settings, case.reference)} has been raised. Respond within "
        f"{settings.retaliation_response_days} days.",
        now,
        reporter_caused=reporter_caused,
    )


async def account_event(session: AsyncSession, settings: Settings, staff: Staff, what: str, now: datetime) -> None:
    texts = {
        "password_changed": "The password of your Speakup account was changed. If this was not you, tell your administrator at once.",
        "second_factor_reset": "The second factor of your Speakup account was reset. You will set it up again at your next login.",
    }
    await enqueue(session, settings, [staff.email], what, "Speakup: your account changed", texts[what], now)


async def new_case_reader(session: AsyncSession, settings: Settings, staff: Staff, now: datetime) -> None:
    """Someone became able to receive cases (a new account or a new role): every Compliance Officer
    and Committee member hears of it, so an administrator cannot quietly give themselves reports."""
    recipients = (
        await session.scalars(
            select(Staff.email).where(Staff.role.in_(RECEIVING_ROLES), Staff.active.is_(True), Staff.id != staff.id)
        )
    ).all()
    await enqueue(
        session,
        settings,
        list(recipients),
        "new_case_reader",
        "Speakup: a new account can read cases",
        f"The account {staff.email} can now receive cases as {staff.role.replace('_', ' ')}. "
        "If you did not expect this, tell the Audit Committee.",
        now,
    )


async def reminders(session: AsyncSession, settings: Settings, today: date, now: datetime) -> int:
    """Deadline reminders, each once per case and deadline, to the managing grant holders."""
    added = 0
    soon_ack, soon_feedback = today + ACKNOWLEDGE_SOON, today + FEEDBACK_SOON
    rules = [
        (
            "acknowledge_due",
            and_(Case.status == "received", Case.acknowledge_by >= today, Case.acknowledge_by <= soon_ack),
            "Speakup: a report is due for acknowledgement",
            "A report{ref} must be acknowledged by {day}.",
        ),
        (
            "acknowledge_overdue",
            and_(Case.status == "received", Case.acknowledge_by < today),
            "Speakup: a report is overdue for acknowledgement",
            "A report{ref} was due for acknowledgement on {day}.",
        ),
        (
            "feedback_due",
            and_(
                Case.status.in_(OPEN_STATUSES),
                Case.feedback_by >= today,
                Case.feedback_by <= soon_feedback,
                deadlines.feedback_pending(),
            ),
            "Speakup: feedback to a reporter is due",
            "Feedback to the reporter of a case{ref} is due by {day}.",
        ),
        (
            "feedback_overdue",
            and_(Case.status.in_(OPEN_STATUSES), Case.feedback_by < today, deadlines.feedback_pending()),
            "Speakup: feedback to a reporter is overdue",
            "Feedback to the reporter of a case{ref} was due on {day}.",
        ),
    ]
    for kind, condition, subject, text in rules:
        deadline = Case.acknowledge_by if kind.startswith("acknowledge") else Case.feedback_by
        for case_id, reference, day in (await session.execute(select(Case.id, Case.reference, deadline).where(condition))).all():
            recipients = await _holders(session, case_id, MANAGING_ROLES)
            added += await enqueue(
                session,
                settings,
                recipients,
                kind,
                subject,
                text.format(ref=_about(settings, reference), day=day.isoformat()),
                now,
                dedupe=f"{kind}:{case_id}:{day.isoformat()}",
            )
    return added + await _remediation_reminders(session, settings, today, now)


async def _remediation_reminders(session: AsyncSession, settings: Settings, today: date, now: datetime) -> int:
    """Overdue remediation actions, to the case's managing holders: once per action and due date, like a deadline
    (the remediation page and the case keep showing it; a mail a day would teach people to ignore them)."""
    added = 0
    overdue = await session.execute(
        select(RemediationAction.id, RemediationAction.case_id, RemediationAction.due_on, Case.reference)
        .join(Case, Case.id == RemediationAction.case_id)
        .where(remediation.overdue_clause(today))
    )
    for action_id, case_id, due_on, reference in overdue.all():
        added += await enqueue(
            session,
            settings,
            await _holders(session, case_id, MANAGING_ROLES),
            "remediation_overdue",
            "Speakup: a remediation action is overdue",
            f"A remediation action of a case{_about(settings, reference)} was due on {due_on.isoformat()}.",
            now,
            dedupe=f"remediation_overdue:{action_id}:{due_on.isoformat()}",
        )
    return added


async def digests(session: AsyncSession, settings: Settings, today: date, now: datetime) -> int:
    """The daily digest, at the set hour, to everyone who wants one, even when nothing is due.

    An Audit Committee member's digest carries the audit log's head hash: kept in their
    mailbox, outside the database, it is what ``speakup audit verify --expect-head`` checks
    a later log against, so that cutting the newest entries cannot pass unseen.
    """
    if now.hour < settings.digest_hour:
        return 0
    added = 0
    audit_head = await session.scalar(select(AuditHead.entry_hash).where(AuditHead.id == 1))
    for staff in (await session.scalars(select(Staff).where(Staff.wants_digest.is_(True), Staff.active.is_(True)))).all():
        # The cases they hold and may read: routing and conflicts count here too.
        mine = (
            select(Grant.case_id)
            .join(Case, Case.id == Grant.case_id)
            .where(Grant.staff_id == staff.id, Grant.holder == "staff", visible_clause(staff.id, staff.role))
        )
        overdue = await session.scalar(select(func.count()).select_from(Case).where(Case.id.in_(mine), deadlines.overdue(today)))
        waiting = await session.scalar(select(func.count()).select_from(Case).where(Case.id.in_(mine), Case.status == "received"))
        flags = await session.scalar(
            select(func.count())
            .select_from(RetaliationFlag)
            .where(RetaliationFlag.case_id.in_(mine), RetaliationFlag.status != "resolved")
        )
        text = (
            f"Your Speakup digest for {today.isoformat()}:\n- reports awaiting acknowledgement: {waiting}\n"
            f"- cases past a deadline: {overdue}\n- open retaliation flags: {flags}"
        )
        if staff.role in COMMITTEE_ROLES and audit_head is not None:
            text += (
                f"\n\nAudit log head (keep this mail: it anchors the log outside the database):\n{audit_head.hex()}\n"
                "Later, `speakup audit verify --expect-head` with this hash fails\nif the log was cut back before it."
            )
        added += await enqueue(
            session,
            settings,
            [staff.email],
            "digest",
            "Speakup: daily digest",
            text,
            now,
            dedupe=f"digest:{staff.id}:{today.isoformat()}",
        )
    return added
