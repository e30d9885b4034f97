"""A case's history as the case page shows it: its steps, from the audit log, in plain words.

Read from the case's audit entries (and the reporter's entries still waiting for
their day to end), never from its content: a label says what was done and who
did it, never what was written. An entry's detail is read only where its form is
known (a staff id, a coded choice); anything else of it is left out.

Staff acts carry their time. The reporter's acts carry their day only, everywhere
(``cases/audit.py``), and so here: shown by day, without a time, and in no order
within their day (sorted by their words), so the page cannot time a reporter's
visit against the staff acts around it. System acts (a check-in sent, a flag from
an HR import, a recovery) are shown by day too: nobody needs their minute.

Not shown: the case being viewed and files being downloaded. Every opening of the
case page writes one (this one too), so they would bury the steps; they are
reads, not steps; and who read what is for the audit log, which the Audit
Committee and the administrators read.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .models import AuditEntry, Case, ReporterEvent
from .vocabulary import (
    ADMISSIBILITY,
    CLOSURES,
    DISCIPLINARY_ACTIONS,
    DISCLOSURE_BASES,
    FINDINGS,
    FLAG_RESOLUTIONS,
    FLAG_SOURCE_LABELS,
    LINK_KINDS,
    PRIORITIES,
    PROTECTED_ROLES,
    REMEDIATION_STATUSES,
)

# Reads, not steps (see the module doc).
# Reads stay in the audit log; a link is shown by the case's links panel, which lists only the linked
# cases the reader may open: its entry here would tell a reader that a case hidden from them exists.
NOT_SHOWN = ("case.viewed", "attachment.downloaded", "remediation.viewed", "summary.read", "case.linked")


@dataclass(frozen=True)
class Event:
    label: str
    actor: str  # a staff member's e-mail, "the reporter" or "the system"
    at: datetime | None  # None: known by its day only


@dataclass(frozen=True)
class Day:
    day: date
    untimed: list[Event] = field(default_factory=list)  # the reporter's and the system's acts, by their words
    timed: list[Event] = field(default_factory=list)  # staff acts, in the order they happened


Emails = dict[int, str]


def _staff(detail: str, emails: Emails, pattern: str = r"staff (\d+)") -> list[str]:
    """The e-mails of the staff ids a detail names, in its order."""
    return [emails.get(int(found), "a former account") for found in re.findall(pattern, detail)]


def _code(detail: str, labels: dict[str, str]) -> str:
    """The label of the first coded word of a detail that ``labels`` knows, or ""."""
    for word in re.findall(r"[a-z_]+", detail):
        if word in labels:
            return labels[word]
    return ""


def _with(text: str, extra: str) -> str:
    return f"{text}: {extra}" if extra else text


def _status(detail: str, emails: Emails) -> str:
    old, _, new = detail.partition(" -> ")
    return f"Status changed from {old} to {new}" if new else "Status changed"


def _flag(text: str, labels: dict[str, str] | None = None) -> Callable[[str, Emails], str]:
    def label(detail: str, emails: Emails) -> str:
        found = re.match(r"flag (\d+)", detail)
        head = f"Retaliation flag {found.group(1)} {text}" if found else f"Retaliation flag {text}"
        return _with(head, _code(detail.partition(":")[2] or detail, labels) if labels else "")

    return label


def _remediation(text: str) -> Callable[[str, Emails], str]:
    def label(detail: str, emails: Emails) -> str:
        found = re.match(r"action (\d+)", detail)
        head = f"Remediation action {found.group(1)} {text}" if found else f"Remediation action {text}"
        status = detail.partition(" -> ")[2]
        return _with(head, REMEDIATION_STATUSES.get(status, ""))

    return label


def _priority(detail: str) -> str:
    found = re.search(r"priority ([a-z]+)", detail)
    return f"{PRIORITIES[found.group(1)].lower()} priority" if found and found.group(1) in PRIORITIES else ""


def _first(detail: str, emails: Emails) -> str:
    named = _staff(detail, emails)
    return named[0] if named else "a staff member"


# Each shown action: how its label reads, from its detail (never printed as it is).
LABELS: dict[str, Callable[[str, Emails], str]] = {
    "report.filed": lambda d, e: "Report filed" + (" (to the Audit Committee only)" if "audit_committee" in d else ""),
    "reporter.message": lambda d, e: "The reporter sent a message",
    "reporter.retaliation": lambda d, e: "The reporter said they face retaliation",
    "check_in.delivered": lambda d, e: "Check-in question sent to the reporter",
    "check_in.answered": lambda d, e: "The reporter answered a check-in",
    "status.changed": _status,
    "message.sent": lambda d, e: "Closing message sent to the reporter" if d == "closing" else "Reply sent to the reporter",
    "note.added": lambda d, e: "Internal note added",
    "identity.revealed": lambda d, e: "The reporter's identity revealed (logged with a reason)",
    "identity.disclosed": lambda d, e: _with("The reporter's identity passed outside the team", _code(d, DISCLOSURE_BASES)),
    "case.assigned": lambda d, e: f"Assigned to {_first(d, e)}",
    "grant.added": lambda d, e: f"Access given to {_first(d, e)}" + (" (from the recovery key)" if "recovery" in d else ""),
    "grant.revoked": lambda d, e: f"Access taken from {_first(d, e)}",
    "grant.override": lambda d, e: f"Access given to {_first(d, e)} despite a conflict of interest",
    "case.recused": lambda d, e: "Recused from the case",
    "case.handed_over": lambda d, e: "Handed over from {} to {}".format(*(_staff(d, e) + ["a staff member"] * 2)[:2]),
    "case.escalated": lambda d, e: "Escalated to the Audit Committee",
    "escalation.requested": lambda d, e: "Escalation to the Audit Committee requested",
    "case.exported": lambda d, e: "Exported as a PDF" + (" with the reporter's identity" if d == "with identity" else ""),
    "case.returned": lambda d, e: "Returned to the Compliance Officer with instructions",
    "case.taken_over": lambda d, e: f"Taken over by the Audit Committee, assigned to {_first(d, e)}",
    "staff.implicated": lambda d, e: f"{_first(d, e)} named as implicated (access removed)",
    "finding.recorded": lambda d, e: _with("Finding recorded", _code(d, FINDINGS)),
    "discipline.recorded": lambda d, e: _with("Disciplinary outcome recorded", _code(d, DISCIPLINARY_ACTIONS)),
    "protected.added": lambda d, e: _with("Protected person added", _code(d, PROTECTED_ROLES)),
    "flag.opened": lambda d, e: "Retaliation flag opened" + (f" (from {s})" if (s := _code(d, FLAG_SOURCE_LABELS)) else ""),
    "flag.reviewing": _flag("taken under review"),
    "flag.resolved": _flag("resolved", FLAG_RESOLUTIONS),
    "case.assessed": lambda d, e: _with("Assessed", ", ".join(filter(None, [_code(d, ADMISSIBILITY), _priority(d)]))),
    "watch.raised": lambda d, e: "Retaliation watch raised (high risk of detriment to the reporter)",
    "watch.lifted": lambda d, e: "Retaliation watch lifted",
    "case.closed": lambda d, e: _with("Closed", _code(d, CLOSURES)),
    "closure.remediation_open": lambda d, e: "Closed with remediation still open (the reason is in the notes)",
    "case.linked": lambda d, e: _with("Linked to another case", _code(d, LINK_KINDS)),
    "feedback.given": lambda d, e: "Reply marked as the feedback (the deadline is met)",
    "remediation.added": _remediation("added"),
    "remediation.updated": _remediation("updated"),
    "minutes.recorded": lambda d, e: "Minutes of a call or meeting recorded",
    "minutes.confirmed": lambda d, e: "The reporter confirmed the minutes",
    "minutes.corrected": lambda d, e: "The reporter corrected the minutes",
}


def _label(action: str, detail: str, emails: Emails) -> str:
    builder = LABELS.get(action)
    if builder is None:  # a step named after this module was written: its name, never its detail
        return action.replace(".", " ").replace("_", " ").capitalize()
    return builder(detail, emails)


def _actor(actor_id: int | None, action: str, detail: str, emails: Emails) -> str:
    if actor_id is not None:
        return emails.get(actor_id, "a former account")
    reporter = action.startswith(("report.", "reporter.")) or action.endswith(".answered") or "from reporter" in detail
    return "the reporter" if reporter or "from check_in" in detail else "the system"


def utc(at: datetime) -> datetime:
    # SQLite gives back naive datetimes (stored as UTC), PostgreSQL aware ones.
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


async def timeline(session: AsyncSession, case: Case, emails: Emails) -> list[Day]:
    """The case's steps by day, oldest first (inside the caller's transaction, after its grant was checked)."""
    logged = (
        await session.execute(
            select(AuditEntry.at, AuditEntry.actor_id, AuditEntry.action, AuditEntry.detail)
            .where(AuditEntry.case_id == case.id, AuditEntry.action.not_in(NOT_SHOWN))
            .order_by(AuditEntry.id)
        )
    ).all()
    waiting = (
        await session.execute(
            select(ReporterEvent.day, ReporterEvent.action, ReporterEvent.detail).where(ReporterEvent.case_id == case.id)
        )
    ).all()
    days: dict[date, Day] = {}
    for at, actor_id, action, detail in logged:
        at = utc(at)
        event = Event(_label(action, detail, emails), _actor(actor_id, action, detail, emails), at if actor_id else None)
        day = days.setdefault(at.date(), Day(at.date()))
        (day.timed if actor_id else day.untimed).append(event)
    for on, action, detail in waiting:
        days.setdefault(on, Day(on)).untimed.append(
            Event(_label(action, detail, emails), _actor(None, action, detail, emails), None)
        )
    for day in days.values():
        day.untimed.sort(key=lambda event: (event.label, event.actor))
    return [days[on] for on in sorted(days)]
