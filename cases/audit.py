"""The audit log: who did what to which case, and when; never content.

Entries are hash-chained: each entry's hash covers the previous entry's hash
and its own fields, and the newest hash is kept in ``audit_head``. Changing,
removing or reordering any entry breaks the chain at that entry, which
``verify`` reports. (Someone able to rewrite the whole table and the head
together can forge a new chain, or cut its newest entries and re-point the
head: ``speakup audit verify`` prints the head hash, the Audit Committee's
daily digest carries it, and ``speakup audit verify --expect-head`` checks
that a head kept elsewhere is still in the chain.)

Entries caused by a reporter carry the date only (00:00 UTC), like every
other reporter-side record, and join the chain only after their day has
ended, as one batch in no meaningful order: their place between timestamped
entries cannot time a reporter's visit either.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from sqlalchemy import func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from .errors import Forbidden
from .exclusion import implicated_clause
from .identity import Identity
from .models import AuditEntry, AuditHead, Case, ReporterEvent, Staff
from .vocabulary import AUDIT_READERS

GENESIS = bytes(32)


def _canonical_time(at: datetime) -> str:
    # SQLite gives back naive datetimes, PostgreSQL aware ones: hash one form.
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at.isoformat(timespec="microseconds")


def entry_hash(previous: bytes, entry: AuditEntry) -> bytes:
    fields = [_canonical_time(entry.at), entry.actor_id, entry.action, entry.case_id, entry.detail]
    return hashlib.sha256(previous + json.dumps(fields, separators=(",", ":")).encode()).digest()


def reporter_time(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def reporter_event(session: AsyncSession, action: str, case_id: int, day: date, detail: str = "") -> None:
    """Log what a reporter did, inside the caller's transaction: it joins the chain in its
    day's batch, after the day ends (``append_past_days``), not between the entries around it."""
    session.add(ReporterEvent(day=day, action=action, case_id=case_id, detail=detail[:500]))


async def append_past_days(session: AsyncSession, today: date) -> int:
    """Chain the reporters' entries of the days before ``today``, a day at a time, each day's
    in the order of their random keys (not the order they happened), dated 00:00 UTC. Returns
    how many were appended. Run by the worker; safe to run often and from two workers (the
    head lock serialises them, and the second finds the events gone)."""
    await session.scalars(select(AuditHead).where(AuditHead.id == 1).with_for_update())
    events = (
        await session.scalars(
            select(ReporterEvent).where(ReporterEvent.day < today).order_by(ReporterEvent.day, ReporterEvent.id)
        )
    ).all()
    for event in events:
        await record(session, event.action, case_id=event.case_id, detail=event.detail, at=reporter_time(event.day))
        await session.delete(event)
    return len(events)


async def record(
    session: AsyncSession,
    action: str,
    *,
    actor_id: int | None = None,
    case_id: int | None = None,
    detail: str = "",
    at: datetime,
) -> AuditEntry:
    """Append an entry inside the caller's transaction (so it commits, or not, with the event)."""
    head = (await session.scalars(select(AuditHead).where(AuditHead.id == 1).with_for_update())).one()
    entry = AuditEntry(at=at, actor_id=actor_id, action=action, case_id=case_id, detail=detail[:500])
    entry.entry_hash = entry_hash(head.entry_hash, entry)
    session.add(entry)
    await session.flush()
    head.entry_id, head.entry_hash = entry.id, entry.entry_hash
    return entry


@dataclass(frozen=True)
class Verification:
    entries: int
    first_bad: int | None  # id of the first entry that does not chain
    problem: str
    head: bytes
    # With an expected head: how many entries came after it (0: it is still the head).
    added_since: int | None = None

    @property
    def ok(self) -> bool:
        return self.first_bad is None and not self.problem


async def verify(session: AsyncSession, expect_head: bytes | None = None) -> Verification:
    """Walk the chain in id order and check every link and the head.

    ``expect_head`` is a head kept outside the database (printed by ``speakup audit
    verify``, mailed in the Committee's digest): the chain must still hold it, as its
    head or as an earlier entry (the log grew since). A chain cut back before it and
    re-pointed at its new last entry chains perfectly; only this comparison finds it.
    """
    previous, count, last_id = GENESIS, 0, 0
    seen_at = 0 if expect_head == GENESIS else None  # entries up to the expected head
    result = await session.stream_scalars(select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=1000))
    async for entry in result:
        count += 1
        if entry_hash(previous, entry) != entry.entry_hash:
            return Verification(count, entry.id, f"entry {entry.id} does not chain to the one before it", previous)
        previous, last_id = entry.entry_hash, entry.id
        if seen_at is None and entry.entry_hash == expect_head:
            seen_at = count
    head = await session.scalar(select(AuditHead).where(AuditHead.id == 1))
    if head is None or (head.entry_id, head.entry_hash) != (last_id, previous):
        return Verification(count, None, "the newest entries were removed (the head does not match)", previous)
    if expect_head is not None and seen_at is None:
        return Verification(
            count,
            None,
            f"the expected head {expect_head.hex()} is not in the chain: entries were removed or the log was rewritten",
            previous,
        )
    return Verification(count, None, "", previous, None if seen_at is None else count - seen_at)


PAGE_SIZE = 100


@dataclass(frozen=True)
class LoggedEntry:
    # The start of the entry's hash names it, not its id: the gaps in the ids would count
    # the entries hidden from this reader (those about a case that implicates them).
    tag: str
    at: datetime
    actor: str  # the staff member's e-mail, "reporter" or "system"
    action: str
    case: str | None  # the case reference
    detail: str


@dataclass(frozen=True)
class LogPage:
    entries: list[LoggedEntry]
    number: int
    pages: int
    verification: Verification | None


def _anonymous_actor(action: str) -> str:
    return "reporter" if action.startswith(("report.", "reporter.")) else "system"


async def read_log(session: AsyncSession, identity: Identity, page: int, *, verify_chain: bool = False) -> LogPage:
    """One page of the log, newest first, for administrators and the Audit Committee;
    with ``verify_chain``, the whole chain checked too (a pass over the log: only when asked)."""
    if identity.staff.role not in AUDIT_READERS:
        raise Forbidden()
    # Entries about a case that implicates the reader are not theirs to see.
    shown = or_(AuditEntry.case_id.is_(None), not_(implicated_clause(identity.staff.id, AuditEntry.case_id)))
    async with session.begin():
        total = await session.scalar(select(func.count()).select_from(AuditEntry).where(shown)) or 0
        pages = max(1, -(-total // PAGE_SIZE))
        number = min(max(page, 1), pages)
        rows = await session.execute(
            select(AuditEntry, Staff.email, Case.reference)
            .outerjoin(Staff, Staff.id == AuditEntry.actor_id)
            .outerjoin(Case, Case.id == AuditEntry.case_id)
            .where(shown)
            .order_by(AuditEntry.id.desc())
            .limit(PAGE_SIZE)
            .offset((number - 1) * PAGE_SIZE)
        )
        entries = [
            LoggedEntry(e.entry_hash.hex()[:12], e.at, email or _anonymous_actor(e.action), e.action, reference, e.detail)
            for e, email, reference in rows.all()
        ]
        verification = await verify(session) if verify_chain else None
    return LogPage(entries, number, pages, verification)
