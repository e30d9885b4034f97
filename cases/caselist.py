"""The staff case list: plain metadata from the query, and each row's summary line
decrypted afterwards for the rows of the page only (``with_summaries``).

Two shapes of the same query, chosen by how many cases the reader holds:
someone holding a few (an investigator) is served from their grants (index
``grants(staff_id, case_id)``) joined to the cases; someone holding most of
them (the Compliance Officer) from the cases' own sort index, keeping those
they hold (EXISTS), so the database can stop after one page instead of
sorting every case. Totals beyond ``COUNT_LIMIT`` are shown as "more than".
The summaries cost two X25519 box openings per row (the reader's grant, then
the report), some 100 for a page of 50, and an audit entry or two:
``bench/caselist.py`` measures them.
"""

from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crypto import boxes, keys

from . import audit, deadlines
from .access import require_role
from .exclusion import visible_clause
from .identity import Identity
from .models import Case, Grant, Staff
from .vocabulary import ACKNOWLEDGE_SOON, CASE_ROLES, FEEDBACK_SOON

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
COUNT_LIMIT = 2_000
# Above this many grants, walk the cases in sort order (see the module doc).
MANY_GRANTS = 1_000
# Only these columns are read: the page's sealed reports are loaded by ``with_summaries``, not here.
LISTED = (
    Case.reference,
    Case.category,
    Case.routing,
    Case.status,
    Case.received_on,
    Case.acknowledge_by,
    Case.feedback_by,
    Case.retaliation_flag,
    Case.feedback_given_on,
)
SORTS: dict[str, ColumnElement[Any]] = {
    "received": Case.received_on.desc(),
    "received_asc": Case.received_on.asc(),
    "acknowledge_by": Case.acknowledge_by.asc(),
    "feedback_by": Case.feedback_by.asc(),
    "reference": Case.reference.asc(),
    "status": Case.status.asc(),
}


@dataclass(frozen=True)
class Filters:
    status: str = ""
    category: str = ""
    assignee: int | None = None  # a staff id; 0 for "unassigned"
    overdue: bool = False
    flagged: bool = False
    committee: bool = False  # the Audit Committee's queue: escalated or routed to it
    sort: str = "received"
    page: int = 1
    page_size: int = PAGE_SIZE
    # Off: the list without the summary lines (a shared screen), and nothing decrypted.
    summaries: bool = True


@dataclass(frozen=True)
class Row:
    reference: str
    category: str
    routing: str
    status: str
    received_on: date
    acknowledge_by: date
    feedback_by: date
    assignee: str | None
    retaliation_flag: bool
    feedback_given_on: date | None  # a reply was marked as the feedback: the deadline is met
    acknowledge_state: str  # "", "due" or "overdue"
    feedback_state: str
    summary: str = ""  # the report's summary line, filled in by ``with_summaries``


@dataclass(frozen=True)
class Page:
    rows: list[Row]
    total: int  # at most COUNT_LIMIT + 1: more than COUNT_LIMIT is shown as such
    number: int
    pages: int


async def list_cases(session: AsyncSession, identity: Identity, filters: Filters, today: date) -> Page:
    """One page of the cases this staff member holds a grant for, with how many match."""
    require_role(identity, CASE_ROLES)
    mine = and_(Grant.case_id == Case.id, Grant.holder == "staff", Grant.staff_id == identity.staff.id)
    held = (
        await session.execute(
            select(func.count()).select_from(
                select(Grant.id)
                .where(Grant.staff_id == identity.staff.id, Grant.holder == "staff")
                .limit(MANY_GRANTS + 1)
                .subquery()
            )
        )
    ).scalar_one()
    # The assignees' e-mails are looked up for the page's rows afterwards: joined here, the staff
    # table led SQLite to gather every match and sort it (43 ms for "overdue only" over 10,000
    # overdue cases) instead of walking the sort index and stopping after a page (2 ms).
    query = select(*LISTED, Case.assignee_id)
    query = query.where(exists().where(mine)) if held > MANY_GRANTS else query.join(Grant, mine)
    query = query.where(visible_clause(identity.staff.id, identity.staff.role))
    if filters.status:
        query = query.where(Case.status == filters.status)
    if filters.category:
        query = query.where(Case.category == filters.category)
    if filters.assignee is not None:
        query = query.where(Case.assignee_id.is_(None) if filters.assignee == 0 else Case.assignee_id == filters.assignee)
    if filters.overdue:
        query = query.where(deadlines.overdue(today))
    if filters.flagged:
        query = query.where(Case.retaliation_flag.is_(True))
    if filters.committee:
        query = query.where(or_(Case.status == "escalated", Case.routing == "audit_committee"))

    total = (
        await session.execute(
            select(func.count()).select_from(query.with_only_columns(Case.id).limit(COUNT_LIMIT + 1).subquery())
        )
    ).scalar_one()
    size = min(max(filters.page_size, 1), MAX_PAGE_SIZE)
    pages = max(1, -(-min(total, COUNT_LIMIT) // size))
    page = min(max(filters.page, 1), pages)
    order = SORTS.get(filters.sort, SORTS["received"])
    found = (await session.execute(query.order_by(order, Case.id.desc()).limit(size).offset((page - 1) * size))).all()
    assignees = {row.assignee_id for row in found} - {None}
    emails = (
        dict((await session.execute(select(Staff.id, Staff.email).where(Staff.id.in_(assignees)))).all()) if assignees else {}
    )
    rows = [
        Row(
            **{name: value for name, value in row._asdict().items() if name != "assignee_id"},
            assignee=emails.get(row.assignee_id),
            acknowledge_state=deadlines.state(row.status == "received", row.acknowledge_by, ACKNOWLEDGE_SOON, today),
            feedback_state=deadlines.state(
                deadlines.feedback_running(row.status, row.feedback_given_on), row.feedback_by, FEEDBACK_SOON, today
            ),
        )
        for row in found
    ]
    return Page(rows, total, page, pages)


async def with_summaries(session: AsyncSession, identity: Identity, rows: list[Row], now: datetime) -> list[Row]:
    """The page's rows with each report's summary line, opened with the reader's own grant. Commits.

    Only the references of the page are read, through the same grant and visibility
    rules as the list: a case hidden from the reader (routing, a conflict of interest)
    opens nothing even if a grant of it was left behind, and its row keeps no summary.
    Opening a summary decrypts case content, so it is logged as every decryption is:
    a "summary.read" entry per case (never the summary).
    """
    require_role(identity, CASE_ROLES)
    if not rows:
        return rows
    mine = and_(Grant.case_id == Case.id, Grant.holder == "staff", Grant.staff_id == identity.staff.id)
    async with session.begin():
        found = (
            await session.execute(
                select(Case.id, Case.reference, Case.report_box, Grant.sealed_key)
                .join(Grant, mine)
                .where(
                    Case.reference.in_([row.reference for row in rows]),
                    visible_clause(identity.staff.id, identity.staff.role),
                )
            )
        ).all()
        # One entry per case, carrying its case id: the audit page's rules then hide it from a reader
        # the case implicates, as they hide every entry of that case (a reference in a detail would not be).
        for case_id, *_ in found:
            await audit.record(session, "summary.read", actor_id=identity.staff.id, case_id=case_id, at=now)
    summaries = {
        reference: boxes.unseal_json(keys.open_grant(sealed_key, identity.private_key), report_box).get("summary", "")
        for _, reference, report_box, sealed_key in found
    }
    return [replace(row, summary=summaries.get(row.reference, "")) for row in rows]
