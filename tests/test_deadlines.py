"""Deadline arithmetic (EU Whistleblower Directive periods)."""

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cases.deadlines import acknowledge_by, add_months, feedback_by


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2026, 11, 30), 3, date(2027, 2, 28)),
        (date(2027, 11, 30), 3, date(2028, 2, 29)),  # leap year
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2026, 8, 31), 3, date(2026, 11, 30)),
        (date(2026, 10, 15), 3, date(2027, 1, 15)),
        (date(2026, 12, 31), 12, date(2027, 12, 31)),
    ],
)
def test_add_months_clamps_to_the_end_of_the_month(start, months, expected):
    assert add_months(start, months) == expected


def test_acknowledgement_is_due_seven_days_after_receipt():
    assert acknowledge_by(date(2026, 11, 24), 7) == date(2026, 12, 1)


def test_feedback_runs_from_the_acknowledgement_or_else_from_day_seven():
    received = date(2026, 11, 23)
    assert feedback_by(received, None, days=7, months=3) == date(2027, 2, 28)  # 30 Nov + 3 months
    assert feedback_by(received, date(2026, 11, 25), days=7, months=3) == date(2027, 2, 25)


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)), st.integers(0, 36))
def test_add_months_lands_in_the_right_month_never_past_the_day(start, months):
    result = add_months(start, months)
    assert (result.year * 12 + result.month) - (start.year * 12 + start.month) == months
    assert result.day <= start.day
    # It clamps only when the month is too short.
    if result.day < start.day:
        assert (result + timedelta(days=1)).day == 1


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)), st.integers(0, 30))
def test_feedback_is_never_before_the_acknowledgement(received, delay):
    acknowledged = received + timedelta(days=delay)
    assert feedback_by(received, acknowledged, days=7, months=3) > acknowledged
