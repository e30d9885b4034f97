"""The oversight dashboard's figures: counted from plain metadata and coded fields only, no case key.

Scope. The Compliance Officer counts the cases they hold (a grant), never a leadership
report and never a case that implicates them; the Audit Committee counts every case but
those that implicate the member (``exclusion.visible_clause``). Every figure, table and
chart of the page and the board pack comes from ``dashboard`` and so has that one scope.

Speed. Every figure is a grouped count, in two statements run at once on two connections
(``PARTS``), each over the cases in scope read once (a CTE); the day differences behind the
medians and 90th percentiles come back as histograms (quarter, days, how many), so a few
hundred integers per metric leave the database whatever the case count, and the percentiles
are read off them here, the same way on SQLite and PostgreSQL. The figures are then kept
until anything is logged (``dashboard``). bench/dashboard.py measures both.

Privacy. In a breakdown that could point at a reporter (per quarter, channel, allegation
type, business unit, country, an open case's age) a count of 1 to 4 reads "fewer than 5"
(``Count``), and a rate or percentile over fewer than 5 cases is not given (``Rate``,
``Spread``). Nothing here tells whether a reporter gave a name.
"""

import asyncio
import math
import re
import time
import weakref
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Integer, String, and_, case, cast, exists, func, literal, null, select, text, union_all
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from . import remediation
from .access import require_role
from .errors import InvalidInput
from .exclusion import visible_clause
from .identity import Identity
from .models import (
    AuditHead,
    Case,
    CaseAllegation,
    DisciplinaryOutcome,
    Finding,
    Grant,
    ListEntry,
    RemediationAction,
    ReporterEvent,
    RetaliationFlag,
)
from .steps import PAGES
from .vocabulary import COMMITTEE_ROLES, OPEN_STATUSES, ROOT_CAUSE_NEEDED

# Below this, a count in a breakdown that could point at a reporter is not given, nor a rate or percentile.
SMALL = 5
FEWER = f"fewer than {SMALL}"
# The longest period a dashboard or board pack covers (its charts stay readable).
MAX_QUARTERS = 12
# Age of an open case, from receipt: (label, up to this many days).
AGE_BANDS: tuple[tuple[str, int | None], ...] = (
    ("up to 30 days", 30),
    ("31 to 90 days", 90),
    ("91 to 180 days", 180),
    ("181 to 365 days", 365),
    ("over a year", None),
)
# From receipt to each milestone, in days, per quarter of receipt.
DURATIONS = {
    "acknowledge": ("Days to acknowledge", Case.acknowledged_on),
    "assess": ("Days to assess", Case.assessed_on),
    "feedback": ("Days to give feedback", Case.feedback_given_on),
    "close": ("Days to close", Case.closed_on),
}
# Still to be investigated or under investigation: the investigation's due date runs.
INVESTIGATION_RUNNING = ("acknowledged", "investigating", "escalated")
# The deadlines an open case can be past, in the order of the digits of its ``late`` figure.
LATE = ("acknowledge", "feedback", "investigation")


# Privacy of the figures


@dataclass(frozen=True)
class Count:
    """A count; in a breakdown that could point at a reporter (``sensitive``), 1 to 4 reads "fewer than 5"."""

    value: int
    sensitive: bool = True

    @property
    def hidden(self) -> bool:
        return self.sensitive and 0 < self.value < SMALL

    @property
    def drawn(self) -> int:
        """What a chart may draw: a hidden count is drawn as nothing (its height would tell it)."""
        return 0 if self.hidden else self.value

    def __str__(self) -> str:
        return FEWER if self.hidden else str(self.value)


@dataclass(frozen=True)
class Rate:
    """A share of ``of`` cases; not given over fewer than 5."""

    part: int
    of: int

    @property
    def shown(self) -> bool:
        return self.of >= SMALL

    @property
    def percent(self) -> float | None:
        return 100 * self.part / self.of if self.shown else None

    def __str__(self) -> str:
        return f"{self.percent:.0f}%" if self.percent is not None else f"not given (under {SMALL} cases)"


@dataclass(frozen=True)
class Spread:
    """Median and 90th percentile of a number of days over ``n`` cases; not given over fewer than 5."""

    n: int
    median: float | None
    p90: float | None

    @classmethod
    def of(cls, histogram: dict[int, int]) -> "Spread":
        n = sum(histogram.values())
        if n < SMALL:
            return cls(n, None, None)
        return cls(n, percentile(histogram, 0.5), percentile(histogram, 0.9))


def percentile(histogram: dict[int, int], share: float) -> float:
    """The ``share`` percentile of values given as {value: how many}, interpolated between the two
    nearest ranks (PostgreSQL's ``percentile_cont``; the median of 2, 3, 10, 11 is 6.5)."""
    values = sorted(histogram.items())
    n = sum(histogram.values())
    position = (n - 1) * share
    low, high = math.floor(position), math.ceil(position)

    def at(rank: int) -> int:
        seen = 0
        for value, count in values:
            seen += count
            if rank < seen:
                return value
        raise IndexError(rank)

    lower = at(low)
    return lower + (at(high) - lower) * (position - low)


def days_text(value: float | None) -> str:
    return "not given" if value is None else (f"{value:.0f}" if value == int(value) else f"{value:.1f}")


# The period


@dataclass(frozen=True, order=True)
class Quarter:
    year: int
    number: int

    @classmethod
    def of(cls, day: date) -> "Quarter":
        return cls(day.year, (day.month - 1) // 3 + 1)

    @classmethod
    def parse(cls, text: str) -> "Quarter":
        """``2026-Q3`` (as the period form sends it); ``ValueError`` otherwise."""
        found = re.fullmatch(r"([0-9]{4})-Q([1-4])", text.strip())
        if not found:
            raise ValueError(text)
        return cls(int(found.group(1)), int(found.group(2)))

    @property
    def start(self) -> date:
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def end(self) -> date:
        """The first day after the quarter."""
        return self.next().start

    def next(self) -> "Quarter":
        return Quarter(self.year + 1, 1) if self.number == 4 else Quarter(self.year, self.number + 1)

    def previous(self) -> "Quarter":
        return Quarter(self.year - 1, 4) if self.number == 1 else Quarter(self.year, self.number - 1)

    @property
    def code(self) -> str:
        return f"{self.year}-Q{self.number}"

    def __str__(self) -> str:
        return f"{self.year} Q{self.number}"


@dataclass(frozen=True)
class Period:
    first: Quarter
    last: Quarter

    @property
    def quarters(self) -> list[Quarter]:
        found, quarter = [], self.first
        while quarter <= self.last:
            found.append(quarter)
            quarter = quarter.next()
        return found

    @property
    def start(self) -> date:
        return self.first.start

    @property
    def end(self) -> date:
        """The first day after the period."""
        return self.last.end

    def __str__(self) -> str:
        return str(self.first) if self.first == self.last else f"{self.first} to {self.last}"

    @property
    def code(self) -> str:
        """As the audit log's detail keeps it: ``2025-Q4..2026-Q3``."""
        return f"{self.first.code}..{self.last.code}"


def default_period(today: date) -> Period:
    """The last four quarters: the current one (still running) and the three before it."""
    last = Quarter.of(today)
    return Period(last.previous().previous().previous(), last)


def parse_period(first: str | None, last: str | None, today: date) -> Period:
    """The period a form asks for; either end left out takes the default's. ``InvalidInput`` for a bad one."""
    default = default_period(today)
    errors: dict[str, str] = {}
    ends: dict[str, Quarter] = {}
    for name, asked, fallback in (("from", first, default.first), ("to", last, default.last)):
        if not asked:
            ends[name] = fallback
            continue
        try:
            ends[name] = Quarter.parse(asked)
        except ValueError:
            errors[name] = "Choose a quarter, such as 2026-Q3."
    if errors:
        raise InvalidInput(fields=errors)
    period = Period(ends["from"], ends["to"])
    if period.first > period.last:
        raise InvalidInput(fields={"to": "The period must end in or after the quarter it starts in."})
    if period.last > Quarter.of(today):
        raise InvalidInput(fields={"to": "The period cannot end after the current quarter."})
    if period.first.year < 2000:
        raise InvalidInput(fields={"from": "Choose a quarter from 2000 on."})
    if len(period.quarters) > MAX_QUARTERS:
        raise InvalidInput(fields={"from": f"A period covers at most {MAX_QUARTERS} quarters."})
    return period


def quarter_choices(today: date, years: int = 6) -> list[Quarter]:
    """The quarters the period form offers: from ``years`` back to the current one, newest first."""
    found, quarter = [], Quarter.of(today)
    while quarter.year > today.year - years:
        found.append(quarter)
        quarter = quarter.previous()
    return found


# SQL helpers


class _DaysBetween(FunctionElement):
    """Whole days from one date column to a later one (PostgreSQL: date - date is an integer)."""

    type = Integer()
    inherit_cache = True


@compiles(_DaysBetween)
def _days_default(element, compiler, **kw):
    later, earlier = list(element.clauses)
    return f"({compiler.process(later, **kw)} - {compiler.process(earlier, **kw)})"


@compiles(_DaysBetween, "sqlite")
def _days_sqlite(element, compiler, **kw):
    later, earlier = list(element.clauses)
    return f"CAST(julianday({compiler.process(later, **kw)}) - julianday({compiler.process(earlier, **kw)}) AS INTEGER)"


def scope(identity: Identity) -> ColumnElement[bool]:
    """SQL over ``Case``: the cases this staff member's figures count (see the module doc)."""
    require_role(identity, PAGES["dashboard"])
    staff = identity.staff
    visible = visible_clause(staff.id, staff.role)
    if staff.role in COMMITTEE_ROLES:
        return visible
    held = exists().where(and_(Grant.case_id == Case.id, Grant.holder == "staff", Grant.staff_id == staff.id))
    return and_(held, visible)


def _quarter_index(column, period: Period):
    """SQL: the index of the period's quarter a date falls in (the caller keeps the date within the period)."""
    return case(*[(column < quarter.end, index) for index, quarter in enumerate(period.quarters)], else_=-1)


def _within(column, period: Period) -> ColumnElement[bool]:
    return and_(column >= period.start, column < period.end)


# The figures


@dataclass(frozen=True)
class Overdue:
    acknowledge: int
    feedback: int
    investigation: int
    remediation: int  # actions, not cases


@dataclass(frozen=True)
class Flags:
    raised: int  # in the period
    open: int  # of those, open or under review now
    resolved: int
    resolved_in_time: int  # by the date a response was due
    response: Spread  # days from raised to resolved
    per_quarter: list[Count]
    open_now: int  # every flag not resolved, whenever raised
    overdue_now: int  # of those, past the date a response was due


@dataclass(frozen=True)
class Dashboard:
    period: Period
    today: date
    committee: bool  # counted over every case (the Committee) or over the cases held (the Compliance Officer)
    open_by_status: dict[str, list[Count]]  # status -> a count per AGE_BANDS
    overdue: Overdue
    durations: dict[str, list[Spread]]  # DURATIONS key -> a Spread per quarter of receipt
    received: list[Count]  # reports per quarter
    by_category: dict[str, list[Count]]  # per quarter; only codes with a report in the period
    by_channel: dict[str, list[Count]]
    by_allegation: dict[str, list[Count]]
    by_business_unit: list[tuple[str, Count]]  # (label, reports in the period)
    by_country: list[tuple[str, Count]]
    findings: dict[str, Counter]  # category -> outcome -> findings decided in the period
    substantiation: dict[str, Rate]  # category -> substantiated in whole or in part
    root_causes: Counter
    flags: Flags
    # (finding outcome or "none", subject type) -> action -> how many, effective in the period
    discipline: dict[tuple[str, str], Counter]
    # The register's summary: cases received in the period by status, category, closure and finding.
    register: dict[str, Counter] = field(default_factory=dict)


def _counts(rows, sensitive: bool = True) -> list[Count]:
    return [Count(value, sensitive) for value in rows]


def _text(value=None):
    """A text column of the figures' rows: NULL typed, so that PostgreSQL can match the UNION's arms."""
    return cast(null(), String) if value is None else value


def _number(value=None):
    return cast(null(), Integer) if value is None else value


# The figures come in two statements run at once on two connections (each reads the cases in
# scope once): those of the cases themselves, and those joining the cases' related rows.
PARTS = {
    "cases": ("open", "days", "reports", "place"),
    "related": ("overdue", "allegation", "finding", "flag", "flag_now", "discipline"),
}


def _figures(scoped, period: Period, today: date, part: str):
    """The statement of one part's figures: one UNION ALL of grouped counts over ``scoped`` (the
    cases in scope, read once), each row (kind, quarter, a, b, c, d, e, days, n)."""
    arms = []

    def arm(kind: str, *, quarter=None, a=None, b=None, c=None, d=None, e=None, days=None, source=None, where=(), group=()):
        if kind not in PARTS[part]:
            return
        query = select(
            literal(kind).label("kind"),
            _number(quarter).label("quarter"),
            _text(a).label("a"),
            _text(b).label("b"),
            _text(c).label("c"),
            _text(d).label("d"),
            _text(e).label("e"),
            _number(days).label("days"),
            func.count().label("n"),
        )
        query = query.select_from(source if source is not None else scoped).where(*where)
        arms.append(query.group_by(*group) if group else query)

    q = scoped.c
    received = q.quarter.is_not(None)
    # Open cases now, by status and age, and which deadlines they are past (``late``, in the quarter column).
    arm("open", quarter=q.late, a=q.status, days=q.band, where=[q.status != "closed"], group=[q.status, q.late, q.band])
    actions = select(RemediationAction.case_id).where(remediation.overdue_clause(today)).subquery()
    arm("overdue", a=literal("remediation"), source=actions.join(scoped, q.id == actions.c.case_id))
    # Days from receipt to each milestone, as histograms per quarter of receipt.
    for name in DURATIONS:
        days = q[f"{name}_days"]
        arm("days", quarter=q.quarter, a=literal(name), days=days, where=[received, days.is_not(None)], group=[q.quarter, days])
    # Reports per quarter by category and channel, allegations by type; business unit and country.
    arm(
        "allegation",
        quarter=q.quarter,
        a=CaseAllegation.code,
        source=scoped.join(CaseAllegation, CaseAllegation.case_id == q.id),
        where=[received],
        group=[q.quarter, CaseAllegation.code],
    )
    arm(
        "place",
        a=cast(q.business_unit_id, String),
        days=q.country_id,
        where=[received],
        group=[q.business_unit_id, q.country_id],
    )
    # Reports per quarter by category and channel, with the register's summary (status, closure,
    # finding) of the same cases: one grouping.
    arm(
        "reports",
        quarter=q.quarter,
        a=q.category,
        b=q.channel,
        c=q.status,
        d=Finding.outcome,
        e=q.closure,
        source=scoped.outerjoin(Finding, Finding.case_id == q.id),
        where=[received],
        group=[q.quarter, q.category, q.channel, q.status, Finding.outcome, q.closure],
    )
    # Findings decided in the period: outcome and root cause, by the case's category.
    arm(
        "finding",
        a=q.category,
        b=Finding.outcome,
        c=Finding.root_cause,
        source=scoped.join(Finding, Finding.case_id == q.id),
        where=[_within(Finding.decided_on, period)],
        group=[q.category, Finding.outcome, Finding.root_cause],
    )
    # Retaliation flags raised in the period (their quarter computed below the grouping: PostgreSQL
    # does not see two renderings of one CASE, each with its own parameters, as the same expression).
    flags = (
        select(
            _quarter_index(RetaliationFlag.opened_on, period).label("quarter"),
            RetaliationFlag.status,
            _DaysBetween(RetaliationFlag.resolved_on, RetaliationFlag.opened_on).label("days"),
            case((RetaliationFlag.resolved_on <= RetaliationFlag.respond_by, "y"), else_="n").label("in_time"),
        )
        .join(scoped, q.id == RetaliationFlag.case_id)
        .where(_within(RetaliationFlag.opened_on, period))
        .subquery()
    )
    f = flags.c
    arm(
        "flag",
        quarter=f.quarter,
        a=f.status,
        b=f.in_time,
        days=f.days,
        source=flags,
        group=[f.quarter, f.status, f.in_time, f.days],
    )
    late = case((RetaliationFlag.respond_by < today, "y"), else_="n")
    now_open = (
        select(late.label("late"))
        .join(scoped, q.id == RetaliationFlag.case_id)
        .where(RetaliationFlag.status != "resolved")
        .subquery()
    )
    arm("flag_now", a=now_open.c.late, source=now_open, group=[now_open.c.late])
    # Discipline effective in the period, by the case's finding and the subject's type.
    arm(
        "discipline",
        a=Finding.outcome,
        b=DisciplinaryOutcome.subject_type,
        c=DisciplinaryOutcome.action,
        source=scoped.join(DisciplinaryOutcome, DisciplinaryOutcome.case_id == q.id).outerjoin(Finding, Finding.case_id == q.id),
        where=[_within(DisciplinaryOutcome.effective_on, period)],
        group=[Finding.outcome, DisciplinaryOutcome.subject_type, DisciplinaryOutcome.action],
    )
    return union_all(*arms)


def _scoped(mine: ColumnElement[bool], period: Period, today: date, part: str):
    """The cases in scope, once, with what the part's figures need of them: a narrow row each."""
    age = _DaysBetween(literal(today), Case.received_on)
    in_period = _within(Case.received_on, period)

    def flag(condition) -> ColumnElement[int]:
        return case((condition, 1), else_=0)

    columns: list[Any] = [
        Case.id,
        Case.status,
        Case.category,
        Case.channel,
        Case.closure,
        Case.business_unit_id,
        Case.country_id,
        case((in_period, _quarter_index(Case.received_on, period)), else_=None).label("quarter"),
        case(
            *[(age <= limit, index) for index, (_, limit) in enumerate(AGE_BANDS) if limit is not None],
            else_=len(AGE_BANDS) - 1,
        ).label("band"),
        # Past which deadlines now, as the case list marks them (cases/deadlines.py): acknowledgement,
        # feedback, investigation, one digit each ("010": the feedback only).
        (
            flag(and_(Case.status == "received", Case.acknowledge_by < today))
            + flag(
                and_(Case.status.in_(("received", *OPEN_STATUSES)), Case.feedback_by < today, Case.feedback_given_on.is_(None))
            )
            * 10
            + flag(and_(Case.status.in_(INVESTIGATION_RUNNING), Case.investigation_due < today)) * 100
        ).label("late"),
    ]
    columns += [_DaysBetween(column, Case.received_on).label(f"{name}_days") for name, (_, column) in DURATIONS.items()]
    # Read once: PostgreSQL and SQLite keep a CTE that the statement reads more than once.
    if part == "related":  # joined to other tables by id, counted by category and quarter: the rest left empty
        columns = [c if c.name in ("id", "category", "quarter") else cast(null(), c.type).label(c.name) for c in columns]
    return select(*columns).where(mine).cte("scoped")


# Figures counted lately, per database: (staff id, role, period, today) -> (data version, when, figures).
_KEPT: "weakref.WeakKeyDictionary[object, dict[tuple, tuple[tuple[int, int], float, Dashboard]]]" = weakref.WeakKeyDictionary()
KEEP_SECONDS = 300
KEEP_MAX = 256


async def _version(session: AsyncSession) -> tuple[int, int]:
    """What changes whenever a figure may have: every staff act and system event writes an audit entry
    (the chain's head moves); a reporter's act writes a reporter event (their number grows until the
    night's batch joins them to the chain, which moves the head)."""
    head = await session.scalar(select(AuditHead.entry_id)) or 0
    waiting = await session.scalar(select(func.count()).select_from(ReporterEvent)) or 0
    return head, waiting


async def dashboard(session: AsyncSession, identity: Identity, period: Period, today: date) -> Dashboard:
    """Every figure of the dashboard and the board pack for ``period``, in this staff member's scope.

    Counting them reads every case in scope (a few hundred ms at 100,000 cases, bench/dashboard.py), so
    the figures are kept, per staff member and period, until anything is logged (``_version``) or for
    ``KEEP_SECONDS`` at most (a change made outside the application, such as a restore, logs nothing).
    """
    mine = scope(identity)
    async with session.begin():
        version = await _version(session)
    kept = _KEPT.setdefault(session.bind, {})
    key = (identity.staff.id, identity.staff.role, period, today)
    found = kept.get(key)
    if found is not None and found[0] == version and time.monotonic() - found[1] < KEEP_SECONDS:
        return found[2]
    board = await _count(session, identity, mine, period, today)
    # Versions read before counting: a change made meanwhile only makes the next read count again.
    kept[key] = (version, time.monotonic(), board)
    while len(kept) > KEEP_MAX:
        kept.pop(next(iter(kept)))
    return board


async def _part(bind: AsyncEngine, mine: ColumnElement[bool], period: Period, today: date, part: str) -> list:
    """One part's rows, on a connection of its own (so that the database works on both parts at once)."""
    async with AsyncSession(bind) as session, session.begin():
        if bind.dialect.name == "postgresql":
            # The statement's estimated cost sets PostgreSQL's JIT compiling it: some 90 ms of compiling
            # for a statement that runs in less than that (bench/dashboard.py).
            await session.execute(text("SET LOCAL jit = off"))
            # Room to group in memory (hash aggregates) rather than sort tens of thousands of rows.
            await session.execute(text("SET LOCAL work_mem = '32MB'"))
        statement = _figures(_scoped(mine, period, today, part), period, today, part)
        return list((await session.execute(statement)).all())


async def _count(session: AsyncSession, identity: Identity, mine: ColumnElement[bool], period: Period, today: date) -> Dashboard:
    width = len(period.quarters)
    open_grid: dict[str, list[int]] = defaultdict(lambda: [0] * len(AGE_BANDS))
    overdue: Counter = Counter()
    histograms: dict[str, list[dict[int, int]]] = {name: [{} for _ in range(width)] for name in DURATIONS}
    received = [0] * width
    categories: dict[str, list[int]] = defaultdict(lambda: [0] * width)
    channels: dict[str, list[int]] = defaultdict(lambda: [0] * width)
    allegations: dict[str, list[int]] = defaultdict(lambda: [0] * width)
    places: dict[str, Counter] = {"business_unit": Counter(), "country": Counter()}
    register: dict[str, Counter] = {"status": Counter(), "category": Counter(), "closure": Counter(), "finding": Counter()}
    findings: dict[str, Counter] = defaultdict(Counter)
    root_causes: Counter = Counter()
    flags_per_quarter = [0] * width
    response: dict[int, int] = {}
    raised = still_open = resolved = resolved_in_time = open_now = overdue_now = 0
    discipline: dict[tuple[str, str], Counter] = defaultdict(Counter)
    bind = session.bind
    assert isinstance(bind, AsyncEngine), "a session bound to the application's engine"
    parts = await asyncio.gather(*(_part(bind, mine, period, today, part) for part in PARTS))
    async with session.begin():
        for kind, quarter, a, b, c, d, e, days, n in (row for rows in parts for row in rows):
            if kind == "open":
                open_grid[a][days] += n
                for digit, name in enumerate(LATE):
                    overdue[name] += n if quarter // 10**digit % 10 else 0
            elif kind == "overdue":
                overdue[a] += n
            elif kind == "days":
                histograms[a][quarter][days] = n
            elif kind == "reports":
                received[quarter] += n
                categories[a][quarter] += n
                channels[b][quarter] += n
                register["status"][c] += n
                register["category"][a] += n
                register["closure"][e or "open"] += n
                register["finding"][d or "none"] += n
            elif kind == "allegation":
                allegations[a][quarter] += n
            elif kind == "place":
                if a is not None:
                    places["business_unit"][int(a)] += n
                if days is not None:
                    places["country"][days] += n
            elif kind == "finding":
                findings[a][b] += n
                if c is not None:
                    root_causes[c] += n
            elif kind == "flag":
                raised += n
                flags_per_quarter[quarter] += n
                if a == "resolved":
                    resolved += n
                    resolved_in_time += n if b == "y" else 0
                    if days is not None:
                        response[days] = response.get(days, 0) + n
                else:
                    still_open += n
            elif kind == "flag_now":
                open_now += n
                overdue_now += n if a == "y" else 0
            elif kind == "discipline":
                discipline[(a or "none", b)][c] += n
        ids = set(places["business_unit"]) | set(places["country"])
        labels = (
            dict((await session.execute(select(ListEntry.id, ListEntry.label).where(ListEntry.id.in_(ids)))).all()) if ids else {}
        )

    return Dashboard(
        period=period,
        today=today,
        committee=identity.staff.role in COMMITTEE_ROLES,
        open_by_status={status: _counts(grid) for status, grid in open_grid.items()},
        overdue=Overdue(overdue["acknowledge"], overdue["feedback"], overdue["investigation"], overdue["remediation"]),
        durations={name: [Spread.of(h) for h in per_quarter] for name, per_quarter in histograms.items()},
        received=_counts(received),
        by_category={code: _counts(values) for code, values in categories.items()},
        by_channel={code: _counts(values) for code, values in channels.items()},
        by_allegation={code: _counts(values) for code, values in allegations.items()},
        by_business_unit=_places(places["business_unit"], labels),
        by_country=_places(places["country"], labels),
        findings=dict(findings),
        substantiation={
            category: Rate(sum(n for outcome, n in outcomes.items() if outcome in ROOT_CAUSE_NEEDED), sum(outcomes.values()))
            for category, outcomes in findings.items()
        },
        root_causes=root_causes,
        flags=Flags(
            raised=raised,
            open=still_open,
            resolved=resolved,
            resolved_in_time=resolved_in_time,
            response=Spread.of(response),
            per_quarter=_counts(flags_per_quarter),
            open_now=open_now,
            overdue_now=overdue_now,
        ),
        discipline=dict(discipline),
        register=register,
    )


def _places(counts: Counter, labels: dict[int, str]) -> list[tuple[str, Count]]:
    return sorted(((labels.get(entry, "?"), Count(n)) for entry, n in counts.items()), key=lambda pair: pair[0].lower())


def open_total(board: Dashboard) -> int:
    return sum(count.value for counts in board.open_by_status.values() for count in counts)
