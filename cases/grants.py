"""Giving and taking the case key: the one place grants to staff are made and revoked."""

from datetime import datetime

from nacl.public import PublicKey
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from crypto import keys

from . import audit
from .errors import Forbidden, InvalidInput
from .identity import Identity
from .models import Case, Grant, Implicated, Staff


def routing_allows(case: Case, role: str) -> bool:
    """A report that concerns leadership never goes to a Compliance Officer."""
    return not (case.routing == "audit_committee" and role == "compliance_officer")


async def grant_to(
    session: AsyncSession, identity: Identity, case: Case, case_key, staff: Staff, now: datetime, *, override: str = ""
) -> bool:
    """Seal the case key to ``staff`` unless they hold it; refuse what routing or a conflict forbids.

    ``override`` (a reason) lets an Audit Committee member grant it to someone the case implicates.
    Returns whether a grant was added.
    """
    if not routing_allows(case, staff.role):
        raise InvalidInput(fields={"assignee": "This report concerns leadership: it cannot go to a Compliance Officer."})
    implicated = await session.scalar(select(Implicated.id).where(Implicated.case_id == case.id, Implicated.staff_id == staff.id))
    if implicated is not None:
        if not override:
            raise InvalidInput(fields={"assignee": "This case implicates them; only an Audit Committee override can grant it."})
        if identity.staff.role != "audit_committee":
            raise Forbidden("Only an Audit Committee member can override a conflict of interest.")
    if await session.scalar(select(Grant.id).where(Grant.case_id == case.id, Grant.staff_id == staff.id)) is not None:
        return False
    session.add(
        Grant(case_id=case.id, holder="staff", staff_id=staff.id, sealed_key=keys.grant(case_key, PublicKey(staff.public_key)))
    )
    await audit.record(
        session,
        "grant.override" if implicated else "grant.added",
        actor_id=identity.staff.id,
        case_id=case.id,
        detail=f"staff {staff.id}" + (f": {override[:200]}" if implicated else ""),
        at=now,
    )
    return True


async def revoke(session: AsyncSession, identity: Identity, case: Case, staff_id: int, now: datetime) -> None:
    await session.execute(delete(Grant).where(Grant.case_id == case.id, Grant.staff_id == staff_id))
    await audit.record(session, "grant.revoked", actor_id=identity.staff.id, case_id=case.id, detail=f"staff {staff_id}", at=now)
