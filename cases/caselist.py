"""The staff case list: plain metadata only, so a page of it decrypts nothing.

Two shapes of the same query, chosen by how many cases the reader holds:
someone holding a few (an investigator) is served from their grants (index
``grants(staff_id, case_id)``) joined to the cases; someone holding most of
them (the Compliance Officer) from the cases' own sort index, keeping those
they hold (EXISTS), so the database can stop after one page instead of
sorting every case. Totals beyond ``COUNT_LIMIT`` are shown as "more than".
"""

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from . import deadlines
from .access import require_role
from .exclusion import visible_clause
from .identity import Identity
from .models import Case, Grant, Staff
from .vocabulary import ACKNOWLEDGE_SOON, CASE_ROLES, FEEDBACK_SOON, OPEN_STATUSES

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
COUNT_LIMIT = 2_000
# Above this many grants, walk the cases in sort order (see the module doc).
MANY_GRANTS = 1_000
# Only these columns are read: no sealed box is loaded for a list page.
LISTED = (
    Case.reference,
    Case.category,
    Case.routing,
    Case.status,
    Case.received_on,
    Case.acknowledge_by,
    Case.feedback_by,
    Case.retaliation_flag,
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
    acknowledge_state: str  # "", "due" or "overdue"
    feedback_state: str


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
    assignee = aliased(Staff)
    query = select(*LISTED, assignee.email.label("assignee"))
    query = query.where(exists().where(mine)) if held > MANY_GRANTS else query.join(Grant, mine)
    query = query.outerjoin(assignee, assignee.id == Case.assignee_id).where(
        visible_clause(identity.staff.id, identity.staff.role)
    )
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
    result = await session.execute(query.order_by(order, Case.id.desc()).limit(size).offset((page - 1) * size))
    rows = [
        Row(
            **row._asdict(),
            acknowledge_state=deadlines.state(row.status == "received", row.acknowledge_by, ACKNOWLEDGE_SOON, today),
            feedback_state=deadlines.state(row.status in ("received", *OPEN_STATUSES), row.feedback_by, FEEDBACK_SOON, today),
        )
        for row in result.all()
    ]
    return Page(rows, total, page, pages)
