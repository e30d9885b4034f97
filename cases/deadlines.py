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


def overdue(today: date) -> ColumnElement[bool]:
    """Cases past a deadline: not acknowledged in time, or open past the feedback date."""
    return or_(
        and_(Case.status == "received", Case.acknowledge_by < today),
        and_(Case.status.in_(OPEN_STATUSES), Case.feedback_by < today),
    )


def state(running: bool, deadline: date, soon: timedelta, today: date) -> str:
    """How a running deadline stands: "overdue", "due" (within ``soon``) or ""."""
    if not running:
        return ""
    if deadline < today:
        return "overdue"
    return "due" if deadline - today <= soon else ""
