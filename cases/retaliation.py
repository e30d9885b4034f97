"""Retaliation protection: flags, protected persons, HR adverse actions, post-closure check-ins.

A flag opens at once when a reporter says they face retaliation, when an HR
adverse action hits a protected person within the protection window, or when
a reporter answers "yes" to a check-in. Staff work it: open -> under review ->
resolved, with a sealed record of the justified grounds found or the remedy.

Protected persons are found by a keyed hash (HMAC-SHA256) of their employee id
under a key that lives in the settings, never in the database; their names
are sealed to the case's staff key, which the reporter does not hold. HR rows that match nobody are not stored, and whoever
sends HR data is never told whether anything matched: that answer would tell
HR who reported or witnessed.
"""

import csv
import hashlib
import hmac
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from nacl.public import PublicKey
from sqlalchemy import and_, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crypto import boxes

from . import audit, deadlines, notifications
from .access import granted_case, staff_public_key
from .context import Context
from .errors import Forbidden, InvalidInput, NoSuchCase, SpeakupError
from .exclusion import is_implicated, visible_clause
from .identity import Identity
from .models import (
    Case,
    CheckIn,
    Grant,
    Message,
    ProtectedPerson,
    RetaliationFlag,
)
from .numbers import add_numbered
from .settings import Settings
from .steps import FLAG_STEPS, allowed_steps, check_role, check_state
from .vocabulary import CASE_ROLES, COMMITTEE_ROLES, FLAG_RESOLUTIONS, PROTECTED_ROLES, RETALIATION_FORMS


class NotConfigured(SpeakupError):
    status = 503
    code = "not_configured"
    detail = "The protected-persons register needs SPEAKUP_HR_MATCH_KEY to be set."


def employee_hash(settings: Settings, employee_id: str) -> bytes:
    if not settings.hr_match_key:
        raise NotConfigured()
    normalised = "".join(employee_id.split()).upper()
    return hmac.new(settings.hr_match_key, normalised.encode(), hashlib.sha256).digest()


async def open_flag(
    session: AsyncSession,
    settings: Settings,
    case_id: int,
    source: str,
    now: datetime,
    *,
    form: str | None = None,
    action_on: date | None = None,
) -> RetaliationFlag:
    """Open a flag inside the caller's transaction, due for a response in 7 days (a setting),
    and tell the Compliance Officer and the Audit Committee.

    A flag from the reporter (a message, a check-in answer) is theirs to time: its audit entry
    waits for the day's batch and its mail for the next day (notifications.py)."""
    today = now.date()
    reporter_caused = source != "hr_match"
    flag = RetaliationFlag(
        case_id=case_id,
        source=source,
        opened_on=today,
        status="open",
        respond_by=today + timedelta(days=settings.retaliation_response_days),
        form=form,
        action_on=action_on,
    )
    await add_numbered(session, flag)
    await session.execute(update(Case).where(Case.id == case_id).values(retaliation_flag=True))
    detail = f"flag {flag.number} from {source}"
    if reporter_caused:
        audit.reporter_event(session, "flag.opened", case_id, today, detail)
    else:
        await audit.record(session, "flag.opened", case_id=case_id, detail=detail, at=now)
    case = await session.get_one(Case, case_id)
    await notifications.retaliation_flag(session, settings, case, now, reporter_caused=reporter_caused)
    return flag


# Protected persons


async def add_protected_person(
    session: AsyncSession,
    ctx: Context,
    identity: Identity,
    reference: str,
    employee_id: str,
    name: str,
    role: str,
    now: datetime,
) -> None:
    """Protect someone of this case (the confidential reporter, a witness, a helper). Commits."""
    errors = {}
    if not employee_id.strip():
        errors["employee_id"] = "Give the employee id HR uses."
    if role not in PROTECTED_ROLES:
        errors["role"] = "Choose reporter, witness or helper."
    if errors:
        raise InvalidInput(fields=errors)
    hashed = employee_hash(ctx.settings, employee_id)
    async with session.begin():
        case, _ = await granted_case(session, identity, reference, "protect")
        session.add(
            ProtectedPerson(
                case_id=case.id,
                employee_hash=hashed,
                name_box=boxes.seal(staff_public_key(case), name.strip().encode()),
                role=role,
                added_by=identity.staff.id,
                added_on=now.date(),
            )
        )
        await audit.record(session, "protected.added", actor_id=identity.staff.id, case_id=case.id, detail=role, at=now)


@dataclass(frozen=True)
class AdverseAction:
    employee_id: str
    form: str
    on: date

    def __repr__(self) -> str:  # an employee id does not go to a log
        return f"AdverseAction({self.form}, {self.on})"


def parse_adverse_actions(rows: list[dict]) -> list[AdverseAction]:
    """Check rows of {employee_id, action, date}; raises ``InvalidInput`` naming each bad row."""
    actions, errors = [], {}
    for number, row in enumerate(rows, start=1):
        employee_id = str(row.get("employee_id") or "").strip()
        form = str(row.get("action") or "").strip()
        try:
            on = date.fromisoformat(str(row.get("date") or "").strip())
        except ValueError:
            on = None
        if not employee_id or form not in RETALIATION_FORMS or on is None:
            errors[f"row {number}"] = "needs employee_id, an action from the list, and a date as YYYY-MM-DD"
            continue
        actions.append(AdverseAction(employee_id, form, on))
    if errors:
        raise InvalidInput("Nothing was imported: fix these rows and send the file again.", fields=errors)
    return actions


def read_csv(text: str) -> list[dict]:
    reader = csv.DictReader(io.StringIO(text))
    missing = {"employee_id", "action", "date"} - set(reader.fieldnames or [])
    if missing:
        raise InvalidInput(f"The CSV needs the columns employee_id, action and date (missing: {', '.join(sorted(missing))}).")
    return list(reader)


async def import_adverse_actions(session: AsyncSession, ctx: Context, actions: list[AdverseAction], today: date) -> int:
    """Match HR adverse actions against protected persons; open a flag for each hit
    inside the protection window. Returns the number of rows checked, never the
    number matched. Importing the same row twice opens one flag. Commits."""
    settings = ctx.settings
    async with session.begin():
        for action in actions:
            people = (
                await session.execute(
                    select(ProtectedPerson.case_id, Case.received_on)
                    .join(Case, Case.id == ProtectedPerson.case_id)
                    .where(ProtectedPerson.employee_hash == employee_hash(settings, action.employee_id))
                )
            ).all()
            for case_id, received_on in people:
                window_end = deadlines.add_months(received_on, settings.protection_months)
                if not received_on <= action.on <= window_end:
                    continue
                seen = await session.scalar(
                    select(RetaliationFlag.id).where(
                        RetaliationFlag.case_id == case_id,
                        RetaliationFlag.source == "hr_match",
                        RetaliationFlag.form == action.form,
                        RetaliationFlag.action_on == action.on,
                    )
                )
                if seen is None:
                    await open_flag(session, settings, case_id, "hr_match", ctx.now(), form=action.form, action_on=action.on)
        await audit.record(session, "hr.imported", detail=f"{len(actions)} rows checked", at=ctx.now())
    return len(actions)


# Working a flag


@dataclass(frozen=True)
class FlagRow:
    # The flag's place among its case's flags (1, 2, ...), with the reference what names it in a URL:
    # a global row id's gaps would count the flags of cases hidden from the reader.
    number: int
    reference: str
    source: str
    status: str
    opened_on: date
    respond_by: date
    form: str | None
    action_on: date | None
    resolution: str | None
    record: str = ""  # the sealed record of a resolution, opened only on the case file
    steps: frozenset[str] = frozenset()  # what the reader may do with it now (steps.FLAG_STEPS)

    @classmethod
    def of(cls, flag: RetaliationFlag, reference: str, *, record: str = "", steps: frozenset[str] = frozenset()) -> "FlagRow":
        f = flag
        return cls(
            f.number, reference, f.source, f.status, f.opened_on, f.respond_by, f.form, f.action_on, f.resolution, record, steps
        )


async def list_flags(session: AsyncSession, identity: Identity, *, include_resolved: bool = False) -> list[FlagRow]:
    """Flags this staff member may see: the Committee sees every flag; others, those of cases they hold.
    Nobody sees the flags of a case that implicates them."""
    if identity.staff.role not in CASE_ROLES:
        raise Forbidden()
    query = (
        select(RetaliationFlag, Case.reference)
        .join(Case, Case.id == RetaliationFlag.case_id)
        .where(visible_clause(identity.staff.id, identity.staff.role))
    )
    if identity.staff.role not in COMMITTEE_ROLES:
        query = query.where(
            exists().where(and_(Grant.case_id == Case.id, Grant.holder == "staff", Grant.staff_id == identity.staff.id))
        )
    if not include_resolved:
        query = query.where(RetaliationFlag.status != "resolved")
    rows = await session.execute(query.order_by(RetaliationFlag.respond_by, Case.reference, RetaliationFlag.number))
    role = identity.staff.role
    return [FlagRow.of(f, reference, steps=allowed_steps(role, f, FLAG_STEPS)) for f, reference in rows.all()]


async def _workable_flag(
    session: AsyncSession, identity: Identity, reference: str, number: int, step: str
) -> tuple[RetaliationFlag, Case]:
    """The flag, locked, if this reader may take ``step`` on it: 403 by role (``FLAG_STEPS``),
    404 unless the case is theirs to see (the Committee: unless it implicates them; the
    Compliance Officer: with its grant), 409 by the flag's state."""
    role = identity.staff.role
    check_role(role, step, FLAG_STEPS)
    row = (
        await session.execute(
            select(RetaliationFlag, Case)
            .join(Case, Case.id == RetaliationFlag.case_id)
            .where(Case.reference == reference, RetaliationFlag.number == number)
            .with_for_update(of=RetaliationFlag)
        )
    ).one_or_none()
    if row is None:
        raise NoSuchCase("There is no such flag.")
    flag, case = row
    if role in COMMITTEE_ROLES:
        if await is_implicated(session, case.id, identity.staff.id):
            raise NoSuchCase("There is no such flag.")
    else:
        await granted_case(session, identity, case.reference, "view")  # 404 without the case's grant
    check_state(flag, role, step, FLAG_STEPS)
    return flag, case


async def review_flag(session: AsyncSession, identity: Identity, reference: str, number: int, now: datetime) -> None:
    async with session.begin():
        flag, case = await _workable_flag(session, identity, reference, number, "review")
        flag.status = "under_review"
        await audit.record(
            session, "flag.reviewing", actor_id=identity.staff.id, case_id=case.id, detail=f"flag {number}", at=now
        )


async def resolve_flag(
    session: AsyncSession, identity: Identity, reference: str, number: int, resolution: str, record: str, now: datetime
) -> None:
    """Close a flag as one of FLAG_RESOLUTIONS (justified grounds, remedy, duplicate, unfounded), with its record sealed. Commits."""
    errors = {}
    if resolution not in FLAG_RESOLUTIONS:
        errors["resolution"] = "Choose a resolution: " + ", ".join(label.lower() for label in FLAG_RESOLUTIONS.values()) + "."
    if len(record.strip()) < 10:
        errors["record"] = "Record the grounds found, the remedy given, the flag it duplicates, or why it is unfounded."
    if errors:
        raise InvalidInput(fields=errors)
    async with session.begin():
        flag, case = await _workable_flag(session, identity, reference, number, "resolve")
        flag.status, flag.resolution = "resolved", resolution
        flag.resolution_box = boxes.seal(staff_public_key(case), record.strip().encode())
        flag.resolved_by, flag.resolved_on = identity.staff.id, now.date()
        remaining = await session.scalar(
            select(RetaliationFlag.id).where(
                RetaliationFlag.case_id == case.id, RetaliationFlag.status != "resolved", RetaliationFlag.id != flag.id
            )
        )
        case.retaliation_flag = remaining is not None
        await audit.record(
            session, "flag.resolved", actor_id=identity.staff.id, case_id=case.id, detail=f"flag {number}: {resolution}", at=now
        )


# Post-closure check-ins

CHECK_IN_TEXT = (
    "It is {days} days since your report was closed. Have you faced any retaliation because of it, such as "
    "dismissal, demotion, a transfer, a pay cut, a poor review, threats or exclusion? Please answer below. "
    "A 'yes' alerts the Compliance Officer and the Audit Committee at once."
)


async def deliver_check_ins(session: AsyncSession, ctx: Context, today: date) -> int:
    """Ask the reporters of closed cases, at 30/90/180/365 days after closure, whether they face
    retaliation. Each question is delivered once; a case that is late for several gets one. Commits."""
    days = sorted(ctx.settings.check_in_days)
    delivered = 0
    async with session.begin():
        closed = (
            await session.execute(
                select(Case.id, Case.public_key, Case.closed_on).where(
                    Case.status == "closed", Case.closed_on.is_not(None), Case.closed_on <= today - timedelta(days=days[0])
                )
            )
        ).all()
        for case_id, public_key, closed_on in closed:
            assert closed_on is not None  # selected so
            done = set((await session.scalars(select(CheckIn.days_after_closure).where(CheckIn.case_id == case_id))).all())
            due = [d for d in days if closed_on + timedelta(days=d) <= today and d not in done]
            if not due:
                continue
            for d in due:
                session.add(CheckIn(case_id=case_id, days_after_closure=d, delivered_on=today))
            await add_numbered(
                session,
                Message(
                    case_id=case_id,
                    sender="system",
                    sent_on=today,
                    body_box=boxes.seal(PublicKey(public_key), CHECK_IN_TEXT.format(days=due[-1]).encode()),
                ),
            )
            await audit.record(
                session, "check_in.delivered", case_id=case_id, detail=f"day {due[-1]}", at=audit.reporter_time(today)
            )
            delivered += 1
    return delivered
