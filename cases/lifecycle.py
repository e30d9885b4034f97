"""The case's life around the investigation (ISO 37002: assess, conclude): assess it, close it, link it.

An assessment codes the case in plain metadata, so cases can be counted by it:
admissibility, priority, the risk of detriment to the reporter, the allegation types,
the business unit and country (``cases/lists.py``). The investigation plan is sealed to
the case's staff key. Only a case assessed as in scope is investigated; the others close
with a closure code and no investigation. Every closure sends the reporter a closing
message, which they read on the follow-up page with their receipt.

Cases are linked, both ways, by someone who holds both. A link never tells a reader
about a case they may not open: the case page lists only linked cases the reader holds.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crypto import boxes

from . import audit, lists, remediation, steps
from .access import granted_case, staff_public_key
from .context import Context
from .errors import InvalidInput, NoSuchCase, WrongStatus
from .exclusion import visible_clause
from .follow_up import MAX_MESSAGE
from .identity import Identity
from .models import Case, CaseAllegation, CaseLink, Grant, ListEntry, RetaliationFlag
from .notes import add_note
from .vocabulary import (
    ADMISSIBILITY,
    ALLEGATION_TYPES,
    CLOSURES,
    DETRIMENT_RISKS,
    LINK_REVERSE,
    PRIORITIES,
    UNINVESTIGATED_CLOSURES,
)
from .workflow import _status, _today, acknowledge_in, add_reply

# The text fields of the forms, as the staff face reads them (the allegation types are a list).
ASSESSMENT_FIELDS = ("admissibility", "priority", "detriment_risk", "business_unit", "country", "plan", "investigation_due")
CLOSURE_FIELDS = ("closure", "message", "duplicate_of", "referred_to", "remediation_reason")
MAX_PLAN = 20_000
MAX_REFERRAL = 300
MAX_REASON = 2_000
# The kinds of link a staff member makes; "duplicated_by" is the other side of "duplicate_of".
LINKABLE = ("related", "duplicate_of")

# The closing message each closure starts from, for the staff member to adapt. A reporter,
# perhaps in danger, reads it: it says what happened and what they can still do, and promises
# nothing the channel does not do (no outcome, no contact outside this page, no further steps).
_STILL_HERE = (
    "You can still read this page with your receipt and write to us here. If anyone treats you worse "
    "because you reported, tell us on this page: we take that seriously."
)
CLOSING_MESSAGES = {
    "investigated": (
        "We have finished looking into your report and have now closed the case. Thank you for raising your "
        "concern. Some details of what was found and done cannot be shared, to protect the people involved. " + _STILL_HERE
    ),
    "out_of_scope": (
        "Thank you for your report. We have assessed it and found that it falls outside what this channel handles "
        "(bribery and corruption under our anti-bribery policy), so we have closed it without an investigation. "
        "This is not a judgement on whether your concern is valid. If it concerns another matter, you can raise it "
        "through the route the company provides for that. " + _STILL_HERE
    ),
    "duplicate": (
        "Thank you for your report. The same matter has already been reported to us and is being dealt with in "
        "another case, so we have closed this report and linked it to that case, where what you told us is taken "
        "into account. " + _STILL_HERE
    ),
    "referred": (
        "Thank you for your report. We have assessed it and found that it is for another body to deal with, so we "
        "have referred the matter to them and closed it in this channel. " + _STILL_HERE
    ),
    "insufficient_information": (
        "Thank you for your report. We asked for more details, but what we have is not enough to look into the "
        "matter further, so we have closed it. If you can tell us more (what happened, when, where and who was "
        "involved), you are welcome to file a new report. " + _STILL_HERE
    ),
    "withdrawn": ("As you asked, we have withdrawn your report and closed it without taking it further. " + _STILL_HERE),
}


class UnknownOther(NoSuchCase):
    """The other case of a link or a duplicate closure: unknown, or not the reader's to open.

    The same answer either way, so the form never confirms that a case exists."""

    def __init__(self, field: str) -> None:
        super().__init__(fields={field: NoSuchCase.detail})


def _id(value: str, field: str, errors: dict[str, str]) -> int | None:
    """A list entry's id from a form ("" for none)."""
    value = value.strip()
    if not value:
        return None
    if not (value.isascii() and value.isdigit() and len(value) <= 9):
        errors[field] = "Choose from the list."
        return None
    return int(value)


def _reference(value: str) -> str:
    return "".join(value.split()).upper()


@dataclass(frozen=True)
class AssessmentDraft:
    """An assessment as staff submit it, checked by ``parse`` (``assess`` checks the rest against the case)."""

    admissibility: str
    priority: str
    detriment_risk: str
    allegations: tuple[str, ...]
    business_unit_id: int | None
    country_id: int | None
    plan: str
    investigation_due: date | None

    def __repr__(self) -> str:  # the plan is case content
        return f"AssessmentDraft(admissibility={self.admissibility!r}, priority={self.priority!r})"

    @property
    def in_scope(self) -> bool:
        return self.admissibility == "in_scope"

    @classmethod
    def parse(
        cls,
        *,
        admissibility: str,
        priority: str,
        detriment_risk: str,
        allegations: Sequence[str],
        business_unit: str,
        country: str,
        plan: str,
        investigation_due: str,
    ) -> "AssessmentDraft":
        """Raises ``InvalidInput`` naming each bad field.

        A case in scope is to be investigated: it needs at least one allegation type, a plan
        and a due date. A case not in scope has no investigation: its due date is ignored."""
        errors: dict[str, str] = {}
        if admissibility not in ADMISSIBILITY:
            errors["admissibility"] = "Choose whether the report is admissible."
        if priority not in PRIORITIES:
            errors["priority"] = "Choose a priority."
        if detriment_risk not in DETRIMENT_RISKS:
            errors["detriment_risk"] = "Choose the risk of detriment to the reporter."
        codes = tuple(dict.fromkeys(allegations))  # once each, in the order given
        if any(code not in ALLEGATION_TYPES for code in codes):
            errors["allegations"] = "Choose allegation types from the list."
        elif admissibility == "in_scope" and not codes:
            errors["allegations"] = "Choose at least one allegation type for a case in scope."
        unit, country_id = _id(business_unit, "business_unit", errors), _id(country, "country", errors)
        plan = plan.strip()
        if len(plan) > MAX_PLAN:
            errors["plan"] = f"At most {MAX_PLAN:,} characters (this has {len(plan):,})."
        elif admissibility == "in_scope" and not plan:
            errors["plan"] = "Write the investigation plan: what is to be established, how, and by whom."
        due = None
        if admissibility == "in_scope":
            try:
                due = date.fromisoformat(investigation_due.strip())
            except ValueError:
                errors["investigation_due"] = "Give the investigation's due date as YYYY-MM-DD."
        if errors:
            raise InvalidInput(fields=errors)
        return cls(admissibility, priority, detriment_risk, codes, unit, country_id, plan, due)


async def assess(
    session: AsyncSession, ctx: Context, identity: Identity, reference: str, draft: AssessmentDraft, now: datetime
) -> None:
    """Record (or revise) the case's assessment; a case not yet acknowledged is acknowledged with it. Commits.

    The retaliation watch follows the latest assessment: a high risk of detriment raises it,
    a lower one on reassessment lifts it. Both are audited, so a lifted watch is on the record."""
    today = _today(now)
    async with session.begin():
        case, _ = await granted_case(session, identity, reference, "assess")
        errors = {}
        # Not in the past, unless it is the date already set (a reassessment that keeps it).
        if (
            draft.investigation_due is not None
            and draft.investigation_due < today
            and draft.investigation_due != case.investigation_due
        ):
            errors["investigation_due"] = "The due date cannot be in the past."
        for field, value, current in (
            ("business_unit", draft.business_unit_id, case.business_unit_id),
            ("country", draft.country_id, case.country_id),
        ):
            if value is not None and not await lists.is_choice(session, field, value, keep=current):
                errors[field] = "Choose from the list."
        if errors:
            raise InvalidInput(fields=errors)
        if case.status == "received":
            await acknowledge_in(session, ctx.settings, identity, case, now)
        case.admissibility, case.priority, case.detriment_risk = draft.admissibility, draft.priority, draft.detriment_risk
        case.business_unit_id, case.country_id = draft.business_unit_id, draft.country_id
        case.plan_box = boxes.seal(staff_public_key(case), draft.plan.encode()) if draft.plan else None
        case.investigation_due = draft.investigation_due if draft.in_scope else None
        case.assessed_on = today
        await session.execute(
            delete(CaseAllegation).where(CaseAllegation.case_id == case.id).execution_options(synchronize_session=False)
        )
        session.add_all(CaseAllegation(case_id=case.id, code=code) for code in draft.allegations)
        detail = f"{draft.admissibility}, priority {draft.priority}, detriment risk {draft.detriment_risk}"
        await audit.record(session, "case.assessed", actor_id=identity.staff.id, case_id=case.id, detail=detail, at=now)
        watch = draft.detriment_risk == "high"
        if watch != case.retaliation_watch:
            action = "watch.raised" if watch else "watch.lifted"
            await audit.record(
                session,
                action,
                actor_id=identity.staff.id,
                case_id=case.id,
                detail=f"detriment risk {draft.detriment_risk}",
                at=now,
            )
            case.retaliation_watch = watch


@dataclass(frozen=True)
class ClosureDraft:
    """A closure as staff submit it, checked by ``parse`` (``close`` checks it against the case)."""

    closure: str
    message: str
    duplicate_of: str = ""
    referred_to: str = ""
    remediation_reason: str = ""

    def __repr__(self) -> str:  # the message, the referral and the reason are case content
        return f"ClosureDraft(closure={self.closure!r})"

    @classmethod
    def parse(
        cls, *, closure: str, message: str, duplicate_of: str = "", referred_to: str = "", remediation_reason: str = ""
    ) -> "ClosureDraft":
        """Raises ``InvalidInput`` naming each bad field."""
        errors: dict[str, str] = {}
        message, referred_to, reason = message.strip(), referred_to.strip(), remediation_reason.strip()
        duplicate_of = _reference(duplicate_of)
        if closure not in CLOSURES:
            errors["closure"] = "Choose how the case ends."
        if not message:
            errors["message"] = "Write the closing message the reporter will read."
        elif len(message) > MAX_MESSAGE:
            errors["message"] = f"At most {MAX_MESSAGE:,} characters (this has {len(message):,})."
        if closure == "duplicate" and not duplicate_of:
            errors["duplicate_of"] = "Give the reference of the case this one duplicates."
        if closure == "referred" and not referred_to:
            errors["referred_to"] = "Say to whom the matter was referred (kept sealed)."
        elif len(referred_to) > MAX_REFERRAL:
            errors["referred_to"] = f"At most {MAX_REFERRAL} characters."
        if len(reason) > MAX_REASON:
            errors["remediation_reason"] = f"At most {MAX_REASON:,} characters."
        if errors:
            raise InvalidInput(fields=errors)
        return cls(
            closure,
            message,
            duplicate_of if closure == "duplicate" else "",
            referred_to if closure == "referred" else "",
            reason,
        )


def closures_for(case: Case) -> tuple[str, ...]:
    """The closure codes a case may close with now: "investigated" after a finding, the others before one."""
    if case.status == "closed":
        return ()
    return ("investigated",) if case.status == "concluded" else UNINVESTIGATED_CLOSURES


async def close_refusal(session: AsyncSession, case: Case) -> str | None:
    """Why the case cannot close now, whatever the closure: a retaliation flag still unresolved."""
    unresolved = await session.scalar(
        select(RetaliationFlag.number)
        .where(RetaliationFlag.case_id == case.id, RetaliationFlag.status != "resolved")
        .order_by(RetaliationFlag.number)
        .limit(1)
    )
    if unresolved is None:
        return None
    # Closing would end the case team's work while the reporter may be suffering for their report.
    return f"Retaliation flag {unresolved} of this case is not resolved: resolve it before closing the case."


async def _lock_in_order(session: AsyncSession, *references: str) -> None:
    """Lock the rows of several cases by case id, whatever order they were named in: two staff
    acting on A and B at once (one names A first, the other B) take turns instead of deadlocking."""
    await session.execute(select(Case.id).where(Case.reference.in_(references)).order_by(Case.id).with_for_update())


async def _other_case(session: AsyncSession, identity: Identity, reference: str, field: str, case: Case) -> Case:
    """The other case of a link, if the staff member holds it (may link it); else ``UnknownOther``."""
    try:
        other, _ = await granted_case(session, identity, reference, "link")
    except NoSuchCase:
        raise UnknownOther(field) from None
    if other.id == case.id:
        raise InvalidInput(fields={field: "A case cannot be linked to itself."})
    return other


async def _join(
    session: AsyncSession, identity: Identity, case: Case, other: Case, kind: str, now: datetime, *, field: str, replace: bool
) -> None:
    """Link two cases both ways, inside the caller's transaction (both rows locked).

    ``replace``: an existing link takes the new kind (a related case found to be a duplicate)."""
    existing = (
        await session.scalars(
            select(CaseLink).where(
                or_(
                    and_(CaseLink.case_id == case.id, CaseLink.other_id == other.id),
                    and_(CaseLink.case_id == other.id, CaseLink.other_id == case.id),
                )
            )
        )
    ).all()
    if existing:
        mine = next((link for link in existing if link.case_id == case.id), existing[0])
        if not replace:
            raise InvalidInput(fields={field: "These two cases are linked already."})
        if (mine.kind if mine.case_id == case.id else LINK_REVERSE[mine.kind]) == "duplicated_by":
            raise InvalidInput(fields={field: "That case is recorded as a duplicate of this one."})
        for link in existing:
            link.kind = kind if link.case_id == case.id else LINK_REVERSE[kind]
    else:
        today = _today(now)
        session.add_all(
            [
                CaseLink(case_id=case.id, other_id=other.id, kind=kind, linked_by=identity.staff.id, linked_on=today),
                CaseLink(
                    case_id=other.id, other_id=case.id, kind=LINK_REVERSE[kind], linked_by=identity.staff.id, linked_on=today
                ),
            ]
        )
    for one, its_kind in ((case, kind), (other, LINK_REVERSE[kind])):
        await audit.record(session, "case.linked", actor_id=identity.staff.id, case_id=one.id, detail=its_kind, at=now)


async def link(
    session: AsyncSession, ctx: Context, identity: Identity, reference: str, other_reference: str, kind: str, now: datetime
) -> None:
    """Link two cases the staff member holds, as related or as a duplicate (stored from both sides). Commits.

    A case they do not hold answers as an unknown one does (``UnknownOther``, a 404)."""
    other_reference = _reference(other_reference)
    errors = {}
    if kind not in LINKABLE:
        errors["link_kind"] = "Choose how the cases are linked."
    if not other_reference:
        errors["other_case"] = "Give the reference of the other case."
    elif other_reference == reference:
        errors["other_case"] = "A case cannot be linked to itself."
    if errors:
        raise InvalidInput(fields=errors)
    steps.check_role(identity.staff.role, "link")  # before any lock
    async with session.begin():
        await _lock_in_order(session, reference, other_reference)
        case, _ = await granted_case(session, identity, reference, "link")
        other = await _other_case(session, identity, other_reference, "other_case", case)
        await _join(session, identity, case, other, kind, now, field="other_case", replace=False)


async def close(
    session: AsyncSession, ctx: Context, identity: Identity, reference: str, draft: ClosureDraft, now: datetime
) -> None:
    """Close the case with a closure code and send the reporter the closing message. Commits.

    After a finding the closure is "investigated"; before one, a code of UNINVESTIGATED_CLOSURES.
    Refused while a retaliation flag of the case is unresolved (``WrongStatus``), and while
    remediation is open unless a reason is given (kept as a sealed note). A duplicate is
    linked to the case it duplicates (the closer must hold both); to whom a case was
    referred is sealed to the staff key."""
    today = _today(now)
    steps.check_role(identity.staff.role, "close")  # before any lock
    async with session.begin():
        if draft.duplicate_of:
            await _lock_in_order(session, reference, draft.duplicate_of)
        case, _ = await granted_case(session, identity, reference, "close")
        refusal = await close_refusal(session, case)
        if refusal:
            raise WrongStatus(refusal)
        if draft.closure not in closures_for(case):
            why = "after a finding" if case.status == "concluded" else "before a finding"
            raise InvalidInput(fields={"closure": f"This closure does not fit a case {why}: choose another."})
        open_actions = await remediation.open_actions(session, case.id)
        if open_actions and not draft.remediation_reason:
            raise InvalidInput(
                fields={
                    "remediation_reason": f"{open_actions} remediation action(s) are still open: say why the case closes anyway."
                }
            )
        if draft.closure == "duplicate":
            other = await _other_case(session, identity, draft.duplicate_of, "duplicate_of", case)
            await _join(session, identity, case, other, "duplicate_of", now, field="duplicate_of", replace=True)
        if draft.closure == "referred":
            case.referral_box = boxes.seal(staff_public_key(case), draft.referred_to.encode())
        if open_actions:
            await add_note(
                session, identity, case, f"Closed with {open_actions} remediation action(s) open: {draft.remediation_reason}", now
            )
            await audit.record(
                session,
                "closure.remediation_open",
                actor_id=identity.staff.id,
                case_id=case.id,
                detail=f"{open_actions} open",
                at=now,
            )
        if case.acknowledged_on is None:  # closed on receipt: the closing message acknowledges it
            case.acknowledged_on = today
        # The closing message tells the reporter what was done and why: the feedback of EU Art. 9(1)(f)
        # (Art. 5(13)), so a case closed without earlier feedback has met that deadline today.
        await add_reply(session, identity, case, draft.message, today, feedback=True)
        await audit.record(session, "message.sent", actor_id=identity.staff.id, case_id=case.id, detail="closing", at=now)
        case.closure, case.closed_on = draft.closure, today
        await audit.record(session, "case.closed", actor_id=identity.staff.id, case_id=case.id, detail=draft.closure, at=now)
        await _status(session, identity, case, "closed", now)


@dataclass(frozen=True)
class LinkView:
    kind: str  # as seen from this case (vocabulary.LINK_KINDS)
    reference: str
    status: str
    linked_on: date


@dataclass(frozen=True)
class Lifecycle:
    """What the case page shows and offers of the assessment, the closure and the links (no sealed content)."""

    allegations: list[str]
    business_unit: str  # the entry's label, "" when none
    country: str
    # Only the linked cases the reader may open: a link to any other is not shown at all, since even
    # "a case you do not hold" would tell an implicated member, or a Compliance Officer, that a
    # report they may not see exists on the matter.
    links: list[LinkView]
    business_units: list[ListEntry]  # what the assessment form offers
    countries: list[ListEntry]
    closures: tuple[str, ...]  # the codes the case may close with now
    close_refusal: str | None
    open_remediation: int


async def lifecycle_of(session: AsyncSession, identity: Identity, case: Case) -> Lifecycle:
    """The case page's lifecycle part, inside the caller's transaction (the reader holds the case)."""
    allegations = (await session.scalars(select(CaseAllegation.code).where(CaseAllegation.case_id == case.id))).all()
    labels = dict(
        (
            await session.execute(
                select(ListEntry.id, ListEntry.label).where(ListEntry.id.in_([case.business_unit_id or 0, case.country_id or 0]))
            )
        ).all()
    )
    me = identity.staff
    linked = (
        await session.execute(
            select(CaseLink.kind, Case.reference, Case.status, CaseLink.linked_on)
            .join(Case, Case.id == CaseLink.other_id)
            .join(Grant, and_(Grant.case_id == Case.id, Grant.holder == "staff", Grant.staff_id == me.id))
            .where(CaseLink.case_id == case.id, visible_clause(me.id, me.role))
            .order_by(CaseLink.linked_on, Case.reference)
        )
    ).all()
    return Lifecycle(
        allegations=sorted(allegations, key=list(ALLEGATION_TYPES).index),
        business_unit=labels.get(case.business_unit_id or 0, ""),
        country=labels.get(case.country_id or 0, ""),
        links=[LinkView(*row) for row in linked],
        business_units=await lists.choices(session, "business_unit", case.business_unit_id),
        countries=await lists.choices(session, "country", case.country_id),
        closures=closures_for(case),
        close_refusal=await close_refusal(session, case),
        open_remediation=await remediation.open_actions(session, case.id),
    )
