"""The Audit Committee's register of every complaint: plain metadata only, for oversight.

The Committee oversees every case (the policy's ADMINISTRATION, SOX 301), including those
routed to the Compliance Officer that no member holds, so the register reads only the plain
columns the README lists (reference, codes, dates, counts): no summary, no sealed field, no
case key. Content still needs a grant: a row links to the case page only for a member who
holds the case. A case that implicates the reader is left out of the register, its counts
and its CSV, as everywhere.

Paging is by keyset, newest first: (received_on, reference) of the last row shown, walked on
the cases' received_on index (and the status and category ones when those filter), so the
hundredth page costs what the first does. The first page counts the matches, to
``COUNT_LIMIT`` at most as on the case list; later pages do not count again. The per-row
extras (remediation, flags, escalation requests, grants) are read for the page's rows only.

From the register a member can ask for a case to be escalated (``request_escalation``): an
audit entry "escalation.requested" and a mail to the Compliance Officers who hold the case,
never a grant and never content. A request stands until the case is escalated (or returned
or taken over after it); asking again meanwhile adds nothing.
"""

import asyncio
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, and_, case, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from . import audit, deadlines, notifications
from .access import require_role
from .caselist import COUNT_LIMIT, PAGE_SIZE
from .errors import NoSuchCase, WrongStatus
from .exclusion import implicated_clause
from .identity import Identity
from .models import AuditEntry, Case, Finding, Grant, ListEntry, RemediationAction, RetaliationFlag
from .settings import Settings
from .spreadsheet import write_csv
from .steps import STEPS
from .vocabulary import (
    ADMISSIBILITY,
    CATEGORIES,
    CHANNELS,
    CLOSURES,
    COMMITTEE_ROLES,
    DETRIMENT_RISKS,
    FINDINGS,
    OPEN_REMEDIATION,
    OPEN_STATUSES,
    PRIORITIES,
    ROOT_CAUSES,
    ROUTING_LABELS,
    STATUSES,
)

# Steps that end a standing escalation request: the case went to the Committee (or came back from it).
ANSWERS_TO_A_REQUEST = ("case.escalated", "case.returned", "case.taken_over")


@dataclass(frozen=True)
class Filters:
    status: str = ""
    category: str = ""
    channel: str = ""
    routing: str = ""
    overdue: bool = False  # past a deadline: acknowledgement, feedback, investigation or a remediation action
    flagged: bool = False  # the reporter (or an HR match) raised retaliation
    received_from: date | None = None
    received_to: date | None = None

    @classmethod
    def parse(cls, query: dict[str, str]) -> "Filters":
        """From a query string: an unknown value or a date that is not YYYY-MM-DD is ignored, as on the case list."""

        def coded(name: str, allowed) -> str:
            value = query.get(name, "")
            return value if value in allowed else ""

        def day(name: str) -> date | None:
            try:
                return date.fromisoformat(query.get(name, ""))
            except ValueError:
                return None

        return cls(
            status=coded("status", STATUSES),
            category=coded("category", CATEGORIES),
            channel=coded("channel", CHANNELS),
            routing=coded("routing", ROUTING_LABELS),
            overdue=query.get("overdue") == "1",
            flagged=query.get("flagged") == "1",
            received_from=day("from"),
            received_to=day("to"),
        )

    def coded(self) -> str:
        """The filter as the audit log keeps it: codes and dates, nothing else."""
        parts = [f"{name}={value}" for name, value in (("status", self.status), ("category", self.category)) if value]
        parts += [f"{name}={value}" for name, value in (("channel", self.channel), ("routing", self.routing)) if value]
        parts += [name for name, on in (("overdue", self.overdue), ("flagged", self.flagged)) if on]
        if self.received_from or self.received_to:
            parts.append(f"received {self.received_from or ''}..{self.received_to or ''}")
        return " ".join(parts) or "all"


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: after (or before) the row with this date of receipt and reference."""

    received_on: date
    reference: str

    def __str__(self) -> str:
        return f"{self.received_on.isoformat()}.{self.reference}"

    @classmethod
    def parse(cls, text: str | None) -> "Cursor | None":
        day, _, reference = (text or "").partition(".")
        try:
            on = date.fromisoformat(day)
        except ValueError:
            return None
        # References are the year and letters and digits, joined by hyphens (2026-7KQ4-M2XD).
        if not (0 < len(reference) <= 16 and reference.replace("-", "").isascii() and reference.replace("-", "").isalnum()):
            return None
        return cls(on, reference)


@dataclass(frozen=True)
class Row:
    reference: str
    category: str
    channel: str
    routing: str
    status: str
    received_on: date
    acknowledge_by: date
    acknowledged_on: date | None
    acknowledgement: str  # "met", "late", "overdue", "missed" or "" (still running, or not due)
    feedback_by: date
    feedback_given_on: date | None
    feedback: str
    assessed_on: date | None
    admissibility: str | None
    priority: str | None
    detriment_risk: str | None
    business_unit: str
    country: str
    investigation_due: date | None
    investigation_overdue: bool
    finding: str | None
    root_cause: str | None
    closure: str | None
    closed_on: date | None
    escalated_on: date | None
    retaliation_flag: bool
    retaliation_watch: bool
    open_flags: int
    remediation_open: int
    remediation_overdue: int
    remediation_done: int
    escalation_requested: bool
    may_request_escalation: bool  # the register offers "ask to escalate" (see ``escalable``)
    held: bool  # the reader holds a grant: the reference links to the case page


@dataclass(frozen=True)
class Page:
    rows: list[Row]
    total: int | None  # on the first page only; at most COUNT_LIMIT + 1: more is shown as "more than"
    next: Cursor | None  # older rows follow
    previous: Cursor | None  # newer rows come before


def deadline_kept(done_on: date | None, due: date, running: bool, ended_on: date | None, today: date) -> str:
    """How a deadline to the reporter went: met or late (done), overdue (still running and past),
    missed (the case moved on, or ended, after the date without it), or "" (running, not yet due)."""
    if done_on is not None:
        return "met" if done_on <= due else "late"
    if running:
        return "overdue" if due < today else ""
    return "missed" if (ended_on or today) > due else ""


def escalable(case) -> bool:
    """Whether the Committee may ask for this case (a row or a ``Case``) to be escalated: routed to the
    Compliance Officer, who could escalate it now (the escalate step's own rule)."""
    return case.routing != "audit_committee" and STEPS["escalate"].when(case, "compliance_officer")


def overdue_clause(today: date) -> ColumnElement[bool]:
    """SQL over ``Case``: past any deadline the Committee oversees (see ``Filters.overdue``)."""
    return or_(
        deadlines.overdue(today),
        and_(Case.status.in_(OPEN_STATUSES), Case.investigation_due < today),
        # Uncorrelated: the database builds the (short) set of such cases once, not one lookup per case.
        Case.id.in_(
            select(RemediationAction.case_id).where(
                RemediationAction.status.in_(OPEN_REMEDIATION), RemediationAction.due_on < today
            )
        ),
    )


# The plain columns the register reads: never a box.
LISTED = (
    Case.id,
    Case.reference,
    Case.category,
    Case.channel,
    Case.routing,
    Case.status,
    Case.received_on,
    Case.acknowledge_by,
    Case.acknowledged_on,
    Case.feedback_by,
    Case.feedback_given_on,
    Case.assessed_on,
    Case.admissibility,
    Case.priority,
    Case.detriment_risk,
    Case.business_unit_id,
    Case.country_id,
    Case.investigation_due,
    Case.closure,
    Case.closed_on,
    Case.escalated_on,
    Case.retaliation_flag,
    Case.retaliation_watch,
    Finding.outcome,
    Finding.root_cause,
    Finding.decided_on,
)


def _query(identity: Identity, filters: Filters, today: date):
    query = (
        select(*LISTED)
        .outerjoin(Finding, Finding.case_id == Case.id)
        .where(not_(implicated_clause(identity.staff.id)))  # an implicated member never sees the case
    )
    for column, value in (
        (Case.status, filters.status),
        (Case.category, filters.category),
        (Case.channel, filters.channel),
        (Case.routing, filters.routing),
    ):
        if value:
            query = query.where(column == value)
    if filters.overdue:
        query = query.where(overdue_clause(today))
    if filters.flagged:
        query = query.where(Case.retaliation_flag.is_(True))
    if filters.received_from:
        query = query.where(Case.received_on >= filters.received_from)
    if filters.received_to:
        query = query.where(Case.received_on <= filters.received_to)
    return query


async def _count(session: AsyncSession, query) -> int:
    counted = query.with_only_columns(Case.id).limit(COUNT_LIMIT + 1).subquery()
    return (await session.execute(select(func.count()).select_from(counted))).scalar_one()


def _before(cursor: Cursor) -> ColumnElement[bool]:
    # Spelled out rather than as a row comparison: "received_on <= day" is what walks the index.
    return and_(
        Case.received_on <= cursor.received_on,
        or_(Case.received_on < cursor.received_on, Case.reference < cursor.reference),
    )


def _after(cursor: Cursor) -> ColumnElement[bool]:
    return and_(
        Case.received_on >= cursor.received_on,
        or_(Case.received_on > cursor.received_on, Case.reference > cursor.reference),
    )


async def list_register(
    session: AsyncSession,
    identity: Identity,
    filters: Filters,
    today: date,
    now: datetime,
    *,
    after: Cursor | None = None,
    before: Cursor | None = None,
    size: int = PAGE_SIZE,
) -> Page:
    """One page of the register, newest first, after ``after`` (older) or before ``before`` (newer). Logged. Commits."""
    require_role(identity, COMMITTEE_ROLES)
    query = _query(identity, filters, today)
    async with session.begin():
        newest_first = (Case.received_on.desc(), Case.reference.desc())
        if before is not None:  # the page before: walk up from the cursor, then show newest first
            found = (
                await session.execute(
                    query.where(_after(before)).order_by(Case.received_on.asc(), Case.reference.asc()).limit(size + 1)
                )
            ).all()
            more_before, found = len(found) > size, list(reversed(found[:size]))
            more_after = True
        else:
            paged = query.where(_before(after)) if after is not None else query
            found = (await session.execute(paged.order_by(*newest_first).limit(size + 1))).all()
            more_after, found = len(found) > size, found[:size]
            more_before = after is not None
        # The total, on the first page only (the count walks every match, up to COUNT_LIMIT: the
        # costliest query of the page); when the first page holds every match, it is their number.
        total: int | None = None
        if after is None and before is None:
            total = len(found) if not more_after else await _count(session, query)
        rows = await _rows(session, identity, found, today, all_cases=False)
        # The filter, not the paging cursor: a cursor names a case, which the log may hide from its reader.
        await audit.record(session, "register.viewed", actor_id=identity.staff.id, detail=filters.coded(), at=now)
    first, last = (rows[0], rows[-1]) if rows else (None, None)
    return Page(
        rows,
        total,
        next=Cursor(last.received_on, last.reference) if last and more_after else None,
        previous=Cursor(first.received_on, first.reference) if first and more_before else None,
    )


async def _rows(session: AsyncSession, identity: Identity, found, today: date, *, all_cases: bool) -> list[Row]:
    """The rows with their counts, inside the caller's transaction: for the page's cases, or
    (``all_cases``, the CSV) grouped over the whole tables once rather than per case."""
    ids = [row.id for row in found]

    def only(column):
        return True if all_cases else column.in_(ids or [0])

    remediation = {
        case_id: (open_, overdue, done)
        for case_id, open_, overdue, done in (
            await session.execute(
                select(
                    RemediationAction.case_id,
                    func.sum(case((RemediationAction.status.in_(OPEN_REMEDIATION), 1), else_=0)),
                    func.sum(
                        case((and_(RemediationAction.status.in_(OPEN_REMEDIATION), RemediationAction.due_on < today), 1), else_=0)
                    ),
                    func.sum(case((RemediationAction.status.in_(("done", "verified")), 1), else_=0)),
                )
                .where(only(RemediationAction.case_id))
                .group_by(RemediationAction.case_id)
            )
        ).all()
    }
    flags = dict(
        (
            await session.execute(
                select(RetaliationFlag.case_id, func.count())
                .where(only(RetaliationFlag.case_id), RetaliationFlag.status != "resolved")
                .group_by(RetaliationFlag.case_id)
            )
        ).all()
    )
    held = set(
        (
            await session.scalars(
                select(Grant.case_id).where(only(Grant.case_id), Grant.holder == "staff", Grant.staff_id == identity.staff.id)
            )
        ).all()
    )
    requested = await _requests_standing(session, None if all_cases else ids)
    labels = dict((await session.execute(select(ListEntry.id, ListEntry.label))).all())  # a short list the admin keeps
    rows = []
    for r in found:
        ended = r.closed_on or r.decided_on  # a deadline to the reporter not met by then was missed
        open_, overdue, done = remediation.get(r.id, (0, 0, 0))
        rows.append(
            Row(
                reference=r.reference,
                category=r.category,
                channel=r.channel,
                routing=r.routing,
                status=r.status,
                received_on=r.received_on,
                acknowledge_by=r.acknowledge_by,
                acknowledged_on=r.acknowledged_on,
                acknowledgement=deadline_kept(r.acknowledged_on, r.acknowledge_by, r.status == "received", r.closed_on, today),
                feedback_by=r.feedback_by,
                feedback_given_on=r.feedback_given_on,
                feedback=deadline_kept(
                    r.feedback_given_on,
                    r.feedback_by,
                    deadlines.feedback_running(r.status, r.feedback_given_on),
                    ended,
                    today,
                ),
                assessed_on=r.assessed_on,
                admissibility=r.admissibility,
                priority=r.priority,
                detriment_risk=r.detriment_risk,
                business_unit=labels.get(r.business_unit_id, ""),
                country=labels.get(r.country_id, ""),
                investigation_due=r.investigation_due,
                investigation_overdue=r.investigation_due is not None
                and r.status in OPEN_STATUSES
                and r.investigation_due < today,
                finding=r.outcome,
                root_cause=r.root_cause,
                closure=r.closure,
                closed_on=r.closed_on,
                escalated_on=r.escalated_on,
                retaliation_flag=r.retaliation_flag,
                retaliation_watch=r.retaliation_watch,
                open_flags=flags.get(r.id, 0),
                remediation_open=int(open_ or 0),
                remediation_overdue=int(overdue or 0),
                remediation_done=int(done or 0),
                escalation_requested=r.id in requested and escalable(r),
                may_request_escalation=r.id not in requested and escalable(r),
                held=r.id in held,
            )
        )
    return rows


async def _requests_standing(session: AsyncSession, case_ids: list[int] | None) -> set[int]:
    """The cases (of ``case_ids``, or all) with an escalation request newer than any escalation,
    return or take-over: audit entries are numbered in the order they chained."""
    query = select(AuditEntry.case_id, AuditEntry.action, func.max(AuditEntry.id)).where(
        AuditEntry.action.in_(("escalation.requested", *ANSWERS_TO_A_REQUEST))
    )
    if case_ids is not None:
        query = query.where(AuditEntry.case_id.in_(case_ids or [0]))
    latest: dict[int, dict[str, int]] = {}
    for case_id, action, newest in (await session.execute(query.group_by(AuditEntry.case_id, AuditEntry.action))).all():
        if case_id is not None:  # every such entry names its case
            latest.setdefault(case_id, {})[action] = newest
    return {
        case_id
        for case_id, actions in latest.items()
        if actions.get("escalation.requested", 0) > max((actions.get(a, 0) for a in ANSWERS_TO_A_REQUEST), default=0)
    }


CSV_HEADER = [
    "reference",
    "category",
    "channel",
    "routing",
    "status",
    "received_on",
    "acknowledge_by",
    "acknowledged_on",
    "acknowledgement",
    "feedback_by",
    "feedback_given_on",
    "feedback",
    "assessed_on",
    "admissibility",
    "priority",
    "detriment_risk",
    "business_unit",
    "country",
    "investigation_due",
    "investigation_overdue",
    "finding",
    "root_cause",
    "closure",
    "closed_on",
    "escalated_on",
    "escalation_requested",
    "retaliation_flag",
    "retaliation_watch",
    "open_flags",
    "remediation_open",
    "remediation_overdue",
    "remediation_done",
]


def _day(value: date | None) -> str:
    return value.isoformat() if value else ""


def _csv_row(r: Row) -> list[object]:
    # Labels where people read them (as the discipline CSV), dates as YYYY-MM-DD, yes/no for flags.
    def yes(on: bool) -> str:
        return "yes" if on else "no"

    return [
        r.reference,
        CATEGORIES[r.category],
        CHANNELS[r.channel],
        ROUTING_LABELS[r.routing],
        r.status,
        _day(r.received_on),
        _day(r.acknowledge_by),
        _day(r.acknowledged_on),
        r.acknowledgement,
        _day(r.feedback_by),
        _day(r.feedback_given_on),
        r.feedback,
        _day(r.assessed_on),
        ADMISSIBILITY.get(r.admissibility or "", ""),
        PRIORITIES.get(r.priority or "", ""),
        DETRIMENT_RISKS.get(r.detriment_risk or "", ""),
        r.business_unit,
        r.country,
        _day(r.investigation_due),
        yes(r.investigation_overdue),
        FINDINGS.get(r.finding or "", ""),
        ROOT_CAUSES.get(r.root_cause or "", ""),
        CLOSURES.get(r.closure or "", ""),
        _day(r.closed_on),
        _day(r.escalated_on),
        yes(r.escalation_requested),
        yes(r.retaliation_flag),
        yes(r.retaliation_watch),
        r.open_flags,
        r.remediation_open,
        r.remediation_overdue,
        r.remediation_done,
    ]


async def export_csv(session: AsyncSession, identity: Identity, filters: Filters, today: date, now: datetime) -> str:
    """Every row the filters select, newest first, as CSV with formula cells quoted; logged. Commits."""
    require_role(identity, COMMITTEE_ROLES)
    async with session.begin():
        found = (
            await session.execute(_query(identity, filters, today).order_by(Case.received_on.desc(), Case.reference.desc()))
        ).all()
        rows = await _rows(session, identity, found, today, all_cases=True)
        await audit.record(
            session,
            "export",
            actor_id=identity.staff.id,
            detail=f"complaint register {filters.coded()}, {len(rows)} rows",
            at=now,
        )
    # Some seconds of CPU at 100,000 rows: in a thread, so the event loop keeps serving other requests.
    return await asyncio.to_thread(write_csv, CSV_HEADER, [_csv_row(row) for row in rows])


async def request_escalation(
    session: AsyncSession, settings: Settings, identity: Identity, reference: str, now: datetime
) -> bool:
    """A Committee member asks that a case be escalated to the Committee. Commits.

    Returns False when a request already stands (nothing is written or mailed again). The
    case row is locked first, so of two members asking at the same moment the second waits
    and then finds the first's request. ``WrongStatus`` when the case is the Committee's
    already (routed to it, or escalated) or decided; ``NoSuchCase`` when it implicates the
    member or does not exist.
    """
    require_role(identity, COMMITTEE_ROLES)
    async with session.begin():
        found = (
            await session.scalars(
                select(Case)
                .where(Case.reference == reference, not_(implicated_clause(identity.staff.id)))
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).one_or_none()
        if found is None:
            raise NoSuchCase()
        if not escalable(found):
            raise WrongStatus("Only an open case routed to the Compliance Officer and not yet escalated can be escalated.")
        if found.id in await _requests_standing(session, [found.id]):
            return False
        officers = await notifications.case_officers(session, found.id)
        if not officers:
            raise WrongStatus("No active Compliance Officer holds this case, so nobody could escalate it.")
        await audit.record(session, "escalation.requested", actor_id=identity.staff.id, case_id=found.id, at=now)
        await notifications.escalation_requested(session, settings, found, officers, now)
    return True
