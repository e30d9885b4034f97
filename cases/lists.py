"""The lists an administrator keeps for coding cases: business units and countries.

An assessment picks a case's business unit and country from these lists (coded staff
choices, never the reporter's own words), so the cases can be counted by them. An entry
that cases use is retired, never deleted: the codes of old cases must still resolve,
and a retired entry is no longer offered for new assessments.
"""

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from . import audit
from .access import require_role
from .errors import InvalidInput
from .identity import Identity
from .models import ListEntry
from .vocabulary import ACCOUNT_MANAGERS, LIST_KINDS

MAX_LABEL = 100


async def entries(session: AsyncSession, identity: Identity) -> dict[str, list[ListEntry]]:
    """Every entry of every list, by kind and label (the administrator's page)."""
    require_role(identity, ACCOUNT_MANAGERS)
    async with session.begin():
        rows = (await session.scalars(select(ListEntry).order_by(ListEntry.kind, func.lower(ListEntry.label)))).all()
    found: dict[str, list[ListEntry]] = {kind: [] for kind in LIST_KINDS}
    for row in rows:
        found[row.kind].append(row)
    return found


async def choices(session: AsyncSession, kind: str, keep: int | None = None) -> list[ListEntry]:
    """The entries an assessment may pick, inside the caller's transaction: the active ones,
    and the one the case has now even if retired since (a reassessment may keep it)."""
    active = ListEntry.active.is_(True) if keep is None else (ListEntry.active.is_(True) | (ListEntry.id == keep))
    return list(
        await session.scalars(select(ListEntry).where(ListEntry.kind == kind, active).order_by(func.lower(ListEntry.label)))
    )


async def is_choice(session: AsyncSession, kind: str, entry_id: int, keep: int | None = None) -> bool:
    """Whether ``entry_id`` is an entry an assessment may pick for ``kind`` (see ``choices``)."""
    entry = await session.get(ListEntry, entry_id)
    return entry is not None and entry.kind == kind and (entry.active or entry.id == keep)


def _label(label: str) -> str:
    label = " ".join(label.split())  # one line, single spaces: a label is shown in lists and forms
    if not label or len(label) > MAX_LABEL or not label.isprintable():
        raise InvalidInput(fields={"label": f"Give a name of 1 to {MAX_LABEL} characters."})
    return label


async def _check_unique(session: AsyncSession, kind: str, label: str, entry_id: int | None = None) -> None:
    taken = await session.scalar(
        select(ListEntry.id).where(
            ListEntry.kind == kind, func.lower(ListEntry.label) == label.lower(), ListEntry.id != (entry_id or 0)
        )
    )
    if taken is not None:
        raise InvalidInput(fields={"label": "This list has an entry of that name already (perhaps retired: reactivate it)."})


async def _flush(session: AsyncSession) -> None:
    try:
        await session.flush()
    except IntegrityError:  # the same name added at the same moment by another administrator
        raise InvalidInput(fields={"label": "This list has an entry of that name already."}) from None


async def add(session: AsyncSession, identity: Identity, kind: str, label: str, now: datetime) -> None:
    """Add an active entry to a list. Commits."""
    require_role(identity, ACCOUNT_MANAGERS)
    if kind not in LIST_KINDS:
        raise InvalidInput(fields={"kind": "Choose a list."})
    label = _label(label)
    async with session.begin():
        await _check_unique(session, kind, label)
        entry = ListEntry(kind=kind, label=label, active=True)
        session.add(entry)
        await _flush(session)
        await audit.record(session, "list.added", actor_id=identity.staff.id, detail=f"{kind} {entry.id}", at=now)


async def _entry(session: AsyncSession, entry_id: int) -> ListEntry:
    entry = await session.get(ListEntry, entry_id, with_for_update=True)
    if entry is None:
        raise InvalidInput(fields={"entry": "There is no such entry."})
    return entry


async def rename(session: AsyncSession, identity: Identity, entry_id: int, label: str, now: datetime) -> None:
    """Correct an entry's name; the cases coded with it show the new name. Commits."""
    require_role(identity, ACCOUNT_MANAGERS)
    label = _label(label)
    async with session.begin():
        entry = await _entry(session, entry_id)
        await _check_unique(session, entry.kind, label, entry.id)
        entry.label = label
        await _flush(session)
        await audit.record(session, "list.renamed", actor_id=identity.staff.id, detail=f"{entry.kind} {entry.id}", at=now)


async def set_active(session: AsyncSession, identity: Identity, entry_id: int, active: bool, now: datetime) -> None:
    """Retire an entry (no longer offered; cases keep it) or reactivate it. Commits."""
    require_role(identity, ACCOUNT_MANAGERS)
    async with session.begin():
        entry = await _entry(session, entry_id)
        entry.active = active
        action = "list.reactivated" if active else "list.retired"
        await audit.record(session, action, actor_id=identity.staff.id, detail=f"{entry.kind} {entry.id}", at=now)
