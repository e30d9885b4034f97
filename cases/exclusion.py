"""Who may never hold a case: routing (a leadership report is never a Compliance Officer's) and
conflicts of interest (staff a case implicates, unless the Audit Committee overrode, on the record).

Checked when a grant is made and again on every read, list, count, mail and export, so a grant
left over from an older database or an earlier role opens nothing.
"""

from sqlalchemy import ColumnElement, SQLColumnExpression, and_, exists, not_, select
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Case, Implicated


def routing_allows(case: Case, role: str) -> bool:
    """A report that concerns leadership never goes to a Compliance Officer."""
    return not (case.routing == "audit_committee" and role == "compliance_officer")


def implicated_clause(
    staff_id: int | SQLColumnExpression[int],
    case_id: int | SQLColumnExpression[int | None] | SQLColumnExpression[int] | None = None,
) -> ColumnElement[bool]:
    """SQL: the case (``Case.id`` unless given) implicates this staff member, and no override stands."""
    return exists().where(
        and_(
            Implicated.case_id == (Case.id if case_id is None else case_id),
            Implicated.staff_id == staff_id,
            Implicated.overridden.is_(False),
        )
    )


def visible_clause(staff_id: int, role: str) -> ColumnElement[bool]:
    """SQL over ``Case``: cases this staff member may see at all (routing and conflicts)."""
    hidden = not_(implicated_clause(staff_id))
    return and_(Case.routing != "audit_committee", hidden) if role == "compliance_officer" else hidden


async def is_implicated(session: AsyncSession, case_id: int, staff_id: int) -> bool:
    found = await session.scalar(
        select(Implicated.id).where(
            Implicated.case_id == case_id, Implicated.staff_id == staff_id, Implicated.overridden.is_(False)
        )
    )
    return found is not None
