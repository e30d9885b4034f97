"""Remediation: what the company does about a finding, tracked until it is done and verified.

What is to be done, who owns it (a colleague's e-mail or an outside party) and the evidence
that it was done are sealed to the case's staff key; the number, due date and status stay
plain, so overdue actions can be listed, counted and reminded without a key.

Status moves open -> in progress -> done -> verified. It may go back while the action is not
verified (a fix that did not hold returns to "in progress"); verified is final, because it rests
on an evidence note: a later problem is a new action, and the verified record stays as it was.
An action is overdue when its due date has passed and it is still open or in progress.
"""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from nacl.public import PrivateKey
from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crypto import boxes, keys

from . import audit
from .access import granted_case, require_role, staff_public_key
from .errors import InvalidInput, NoSuchCase, WrongStatus
from .exclusion import visible_clause
from .identity import Identity
from .models import Case, Grant, RemediationAction
from .numbers import add_numbered
from .steps import PAGES
from .vocabulary import OPEN_REMEDIATION, REMEDIATION_STATUSES

MAX_WHAT = 2_000
MAX_OWNER = 200
MAX_EVIDENCE = 5_000
# The remediation page shows at most this many actions (overdue first), and says so when there are more.
PAGE_LIMIT = 200
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _today(now: datetime) -> date:
    return now.astimezone(UTC).date()


def _clean(value: str, field: str, limit: int, missing: str, errors: dict[str, str]) -> str:
    value = value.strip()
    if not value:
        errors[field] = missing
    elif len(value) > limit:
        errors[field] = f"At most {limit:,} characters (this has {len(value):,})."
    elif "\x00" in value:
        errors[field] = "Remove the NUL character."
    return value


@dataclass(frozen=True)
class ActionDraft:
    """A new remediation action as staff submit it, checked by ``parse``."""

    what: str
    owner: str
    due_on: date

    def __repr__(self) -> str:  # what and who are case content
        return f"ActionDraft(due_on={self.due_on})"

    @classmethod
    def parse(cls, what: str, owner: str, due_on: str, today: date) -> "ActionDraft":
        """Raises ``InvalidInput`` naming each bad field; the due date may be today, not earlier."""
        errors: dict[str, str] = {}
        what = _clean(what, "what", MAX_WHAT, "Say what is to be done.", errors)
        owner = _clean(owner, "owner", MAX_OWNER, "Name who owns it: a colleague's e-mail or an outside party.", errors)
        due = None
        if ISO_DATE.fullmatch(due_on.strip()):
            try:
                due = date.fromisoformat(due_on.strip())
            except ValueError:
                pass
        if due is None:
            errors["due_on"] = "Give the due date as YYYY-MM-DD."
        elif due < today:
            errors["due_on"] = "The due date cannot be in the past."
        if errors:
            raise InvalidInput(fields=errors)
        assert due is not None
        return cls(what, owner, due)


def is_overdue(status: str, due_on: date, today: date) -> bool:
    return status in OPEN_REMEDIATION and due_on < today


def overdue_clause(today: date) -> ColumnElement[bool]:
    """SQL over ``RemediationAction``: past its due date and still open or in progress."""
    return and_(RemediationAction.status.in_(OPEN_REMEDIATION), RemediationAction.due_on < today)


def check_update(current: str, new: str, evidence: str, has_evidence: bool) -> None:
    """The status rules (see the module doc): ``WrongStatus`` from verified, ``InvalidInput`` otherwise."""
    if current == "verified":
        raise WrongStatus("A verified action is final: record a new action for anything still to do.")
    if new not in REMEDIATION_STATUSES:
        raise InvalidInput(fields={"status": "Choose a status."})
    if new == current and not evidence:
        raise InvalidInput(fields={"status": f"The action is {REMEDIATION_STATUSES[current].lower()} already."})
    if new == "verified" and not (evidence or has_evidence):
        raise InvalidInput(fields={"evidence": "Verifying needs an evidence note: what shows the action was done."})


async def add_action(session: AsyncSession, identity: Identity, reference: str, draft: ActionDraft, now: datetime) -> int:
    """Record a remediation action on a concluded (or closed) case, numbered within it. Commits; returns its number."""
    async with session.begin():
        case_row, _ = await granted_case(session, identity, reference, "remediate")  # locks the case: numbers follow
        public = staff_public_key(case_row)
        today = _today(now)
        action = RemediationAction(
            case_id=case_row.id,
            what_box=boxes.seal(public, draft.what.encode()),
            owner_box=boxes.seal(public, draft.owner.encode()),
            due_on=draft.due_on,
            status="open",
            created_by=identity.staff.id,
            created_on=today,
            updated_on=today,
        )
        await add_numbered(session, action)
        # Codes and numbers only: what and who stay sealed.
        await audit.record(
            session,
            "remediation.added",
            actor_id=identity.staff.id,
            case_id=case_row.id,
            detail=f"action {action.number}",
            at=now,
        )
        return action.number


async def update_action(
    session: AsyncSession, identity: Identity, reference: str, number: int, status: str, evidence: str, now: datetime
) -> None:
    """Move an action to ``status``, with an evidence note (sealed; required to verify). Commits."""
    evidence = evidence.strip()
    if len(evidence) > MAX_EVIDENCE or "\x00" in evidence:
        raise InvalidInput(fields={"evidence": f"At most {MAX_EVIDENCE:,} characters, and no NUL character."})
    async with session.begin():
        case_row, _ = await granted_case(session, identity, reference, "update-remediation")
        action = await session.scalar(
            select(RemediationAction).where(RemediationAction.case_id == case_row.id, RemediationAction.number == number)
        )
        if action is None:
            raise NoSuchCase("There is no such remediation action in this case.")
        check_update(action.status, status, evidence, action.evidence_box is not None)
        detail = f"action {number}: {action.status} -> {status}" if status != action.status else f"action {number}: evidence"
        action.status = status
        if evidence:
            action.evidence_box = boxes.seal(staff_public_key(case_row), evidence.encode())
        action.updated_on = _today(now)
        await audit.record(session, "remediation.updated", actor_id=identity.staff.id, case_id=case_row.id, detail=detail, at=now)


async def open_actions(session: AsyncSession, case_id: int) -> int:
    """How many actions of a case are still open or in progress (closing the case asks for a reason then)."""
    count = select(func.count()).select_from(RemediationAction)
    return (
        await session.execute(count.where(RemediationAction.case_id == case_id, RemediationAction.status.in_(OPEN_REMEDIATION)))
    ).scalar_one()


@dataclass(frozen=True)
class ActionView:
    """One action as the case page shows it, decrypted."""

    number: int
    what: str
    owner: str
    due_on: date
    status: str
    evidence: str
    overdue: bool
    created_by: str
    updated_on: date


def _text(key: PrivateKey, box: bytes | None) -> str:
    return boxes.unseal(key, box).decode() if box is not None else ""


def views(actions: list[RemediationAction], staff_key: PrivateKey, emails: dict[int, str], today: date) -> list[ActionView]:
    """The case's actions for its page (the caller opened the case, and audited that)."""
    return [
        ActionView(
            a.number,
            _text(staff_key, a.what_box),
            _text(staff_key, a.owner_box),
            a.due_on,
            a.status,
            _text(staff_key, a.evidence_box),
            is_overdue(a.status, a.due_on, today),
            emails.get(a.created_by, ""),
            a.updated_on,
        )
        for a in actions
    ]


@dataclass(frozen=True)
class Filters:
    overdue: bool = False
    status: str = ""  # a code of REMEDIATION_STATUSES, or "" for all


@dataclass(frozen=True)
class Row:
    """One action on the remediation page: plain metadata, and what and who decrypted for this row only."""

    reference: str
    number: int
    due_on: date
    status: str
    overdue: bool
    what: str
    owner: str


@dataclass(frozen=True)
class Listing:
    rows: list[Row]
    more: bool  # more actions match than the page shows


async def list_actions(session: AsyncSession, identity: Identity, filters: Filters, now: datetime) -> Listing:
    """The remediation actions of the cases this staff member holds and may see, overdue first. Commits.

    Like the case list: a grant is needed, and routing and conflicts of interest hide a case
    even from a grant holder (``exclusion.visible_clause``). What and who are sealed: they are
    opened with the reader's own grant, for the rows shown only, and each case so opened is audited.
    """
    require_role(identity, PAGES["remediation"])
    today = _today(now)
    mine = and_(Grant.case_id == Case.id, Grant.holder == "staff", Grant.staff_id == identity.staff.id)
    query = (
        select(RemediationAction, Case.id, Case.reference, Grant.staff_sealed_key)
        .join(Case, Case.id == RemediationAction.case_id)
        .join(Grant, mine)
        .where(visible_clause(identity.staff.id, identity.staff.role))
    )
    if filters.overdue:
        query = query.where(overdue_clause(today))
    if filters.status:
        query = query.where(RemediationAction.status == filters.status)
    overdue_first = case((overdue_clause(today), 0), else_=1)
    query = query.order_by(overdue_first, RemediationAction.due_on, Case.reference, RemediationAction.number)
    async with session.begin():
        found = (await session.execute(query.limit(PAGE_LIMIT + 1))).all()
        shown = found[:PAGE_LIMIT]
        case_ids = sorted({case_id for _, case_id, _, _ in shown})
        for case_id in case_ids:
            await audit.record(session, "remediation.viewed", actor_id=identity.staff.id, case_id=case_id, at=now)
    staff_keys: dict[int, PrivateKey | None] = {}
    rows = []
    for action, case_id, reference, sealed in shown:
        if case_id not in staff_keys:  # one grant opened per case, not per row
            staff_keys[case_id] = keys.open_grant(sealed, identity.private_key) if sealed is not None else None
        key = staff_keys[case_id]
        what, owner = (_text(key, action.what_box), _text(key, action.owner_box)) if key else ("(sealed)", "(sealed)")
        rows.append(
            Row(
                reference,
                action.number,
                action.due_on,
                action.status,
                is_overdue(action.status, action.due_on, today),
                what,
                owner,
            )
        )
    return Listing(rows, more=len(found) > PAGE_LIMIT)
