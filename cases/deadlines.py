"""Deadlines of the EU Whistleblower Directive, Art. 9(1)(b) and (f).

Acknowledge a report within 7 days of receipt; give the reporter feedback
within 3 months of the acknowledgement, or, when none was sent, of the end of
the 7 days. Both periods are settings.
"""

import calendar
from datetime import date, timedelta

from sqlalchemy import ColumnElement, and_, or_

from .models import Case
from .vocabulary import OPEN_STATUSES


def add_months(day: date, months: int) -> date:
    """Calendar months, clamped to the month's end: 30 Nov + 3 months = 28/29 Feb."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def acknowledge_by(received_on: date, days: int) -> date:
    return received_on + timedelta(days=days)


def feedback_by(received_on: date, acknowledged_on: date | None, *, days: int, months: int) -> date:
    start = acknowledged_on if acknowledged_on is not None else acknowledge_by(received_on, days)
    return add_months(start, months)


def feedback_pending() -> ColumnElement[bool]:
    """SQL: the feedback deadline still runs: no reply was marked as the feedback (Art. 9(1)(f))."""
    return Case.feedback_given_on.is_(None)


def feedback_running(status: str, feedback_given_on: date | None) -> bool:
    """Whether a case's feedback deadline runs: open, and no reply marked as the feedback yet."""
    return status in ("received", *OPEN_STATUSES) and feedback_given_on is None


def overdue(today: date) -> ColumnElement[bool]:
    """Cases past a deadline: not acknowledged in time, or open past the feedback date
    without a reply marked as the feedback (once given, the deadline counts as met)."""
    return or_(
        and_(Case.status == "received", Case.acknowledge_by < today),
        and_(Case.status.in_(OPEN_STATUSES), Case.feedback_by < today, feedback_pending()),
    )


def state(running: bool, deadline: date, soon: timedelta, today: date) -> str:
    """How a running deadline stands: "overdue", "due" (within ``soon``) or ""."""
    if not running:
        return ""
    if deadline < today:
        return "overdue"
    return "due" if deadline - today <= soon else ""
