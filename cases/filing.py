"""Filing a report: the one way a case comes into being.

The intake site, the JSON API and the demo all call ``parse_report`` then
``file_report``, so every report is checked and sealed by the same rules.
"""

import asyncio
import secrets
from dataclasses import asdict, dataclass
from dataclasses import fields as dataclass_fields
from datetime import date
from typing import Any

from nacl.public import PublicKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crypto import boxes, keys, receipts

from . import audit, deadlines, notifications
from .content import IDENTITY_FIELDS, Upload, check_uploads, seal_identity, seal_uploads
from .context import Context
from .errors import InvalidInput, NeedsConfirmation
from .models import Case, Grant, Staff
from .vocabulary import CATEGORIES, CHANNELS

# Longest accepted text per field, in characters.
TEXT_FIELDS = {
    "summary": 200,
    "details": 20_000,
    "occurred_on": 200,
    "country": 100,
    "people": 5_000,
    "amount": 200,
    "how_known": 5_000,
}
REQUIRED = ("summary", "details")
FOREIGN_OFFICIAL = ("yes", "no", "unknown")
REPORT_FIELDS = ("category", *TEXT_FIELDS, "foreign_official_involved", "concerns_leadership", "identity", "channel")
# Details shorter than this cannot say who did what and when (a sentence that does is some
# 40 characters: "The agent paid the inspector in March."); they are most often a form sent
# too soon (Enter pressed in a field) or a test of the channel, so the reporter is asked first.
SHORT_DETAILS = 30


@dataclass(frozen=True)
class Report:
    """A report's fields as sealed with the case (the identity is sealed apart)."""

    category: str
    summary: str
    details: str
    occurred_on: str = ""
    country: str = ""
    people: str = ""
    amount: str = ""
    how_known: str = ""
    foreign_official_involved: str = "unknown"
    concerns_leadership: bool = False

    def __repr__(self) -> str:  # report content never goes to a log
        return f"{type(self).__name__}(category={self.category!r})"

    @classmethod
    def unsealed(cls, fields: dict[str, Any]) -> "Report":
        """The report from its opened box."""
        names = {f.name for f in dataclass_fields(Report)}
        return cls(**{name: value for name, value in fields.items() if name in names})


@dataclass(frozen=True, repr=False)
class ReportDraft(Report):
    """A report as filed: its fields and the reporter's identity (None: anonymous)."""

    identity: dict[str, str] | None = None
    # How the report came in (vocabulary.CHANNELS): plain on the case, not sealed with the report.
    channel: str = "web"

    def sealed_fields(self) -> dict[str, Any]:
        fields = asdict(self)
        del fields["identity"], fields["channel"]
        return fields


def check_details_length(draft: ReportDraft) -> None:
    """``NeedsConfirmation`` when the details are only a few characters: the reporter is asked
    to add to them, or to send the report as it is."""
    if len(draft.details) < SHORT_DETAILS:
        raise NeedsConfirmation(
            fields={
                "details": f"Only {len(draft.details)} characters. Say what happened, who was involved, and when, "
                "if you can: the people reading it cannot ask you before you come back with your receipt."
            }
        )


def _text(value: Any, field: str, limit: int, errors: dict[str, str]) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        errors[field] = "Must be text."
        return ""
    value = value.strip()
    if len(value) > limit:
        errors[field] = f"At most {limit:,} characters (this has {len(value):,})."
    return value


def parse_report(data: dict[str, Any]) -> ReportDraft:
    """Check a report given as the API's JSON object. Raises ``InvalidInput`` naming each bad field."""
    errors: dict[str, str] = {}
    for unknown in sorted(set(data) - set(REPORT_FIELDS)):
        errors[unknown] = "Unknown field."

    category = data.get("category")
    if category not in CATEGORIES:
        errors["category"] = "Choose one of the categories." if not category else "Unknown category."
    values = {field: _text(data.get(field), field, limit, errors) for field, limit in TEXT_FIELDS.items()}
    for field in REQUIRED:
        if not values[field] and field not in errors:
            errors[field] = "This field is required."

    foreign = data.get("foreign_official_involved") or "unknown"
    if isinstance(foreign, bool):  # a yes/no from a client that thinks in booleans
        foreign = "yes" if foreign else "no"
    if foreign not in FOREIGN_OFFICIAL:
        errors["foreign_official_involved"] = "Answer yes, no or unknown."

    leadership = data.get("concerns_leadership", False)
    if not isinstance(leadership, bool):
        errors["concerns_leadership"] = "Must be true or false."

    identity = data.get("identity")
    if identity is not None:
        if not isinstance(identity, dict) or set(identity) - set(IDENTITY_FIELDS):
            errors["identity"] = "Give an object with name and contact, or null to stay anonymous."
            identity = None
        else:
            identity = {f: _text(identity.get(f), f"identity.{f}", n, errors) for f, n in IDENTITY_FIELDS.items()}
            if not identity["name"] and not identity["contact"]:
                errors["identity.name"] = "Give a name or a way to reach you, or choose to stay anonymous."

    channel = data.get("channel", "web")
    if not isinstance(channel, str) or channel not in CHANNELS:
        errors["channel"] = "Unknown channel."

    if errors:
        raise InvalidInput(fields=errors)
    assert isinstance(category, str)  # checked above
    return ReportDraft(
        category=category,
        foreign_official_involved=foreign,
        concerns_leadership=leadership,
        identity=identity,
        channel=channel,
        **values,
    )


async def _new_reference(session: AsyncSession, year: int) -> str:
    """The year and eight random symbols (40 bits): a reference tells nothing of how many reports
    came before it, so the gaps in a staff member's list do not count the reports hidden from them."""
    while True:
        reference = f"{year}-" + receipts.display("".join(secrets.choice(receipts.ALPHABET) for _ in range(8)))
        if await session.scalar(select(Case.id).where(Case.reference == reference)) is None:
            return reference


async def file_report(session: AsyncSession, ctx: Context, draft: ReportDraft, uploads: list[Upload], today: date) -> str:
    """Seal and store a report; return its receipt only once the case is committed.

    Routing: a report concerning the Compliance Officer, the CFO or a director
    is granted to the Audit Committee only; any other to the Compliance
    Officer, and, in the accounting categories, to the Audit Committee too.
    The recovery key and the reporter always get a grant. A case has two key
    pairs: the conversation key (staff, the recovery key and the reporter) and
    the staff key (staff and the recovery key only), which seals the identity.
    """
    settings = ctx.settings
    check_uploads(uploads, settings)
    installation = await ctx.installation()

    # The slow work (Argon2id, encryption) happens before the transaction,
    # so the write lock is held for inserts only.
    receipt = receipts.new_receipt()
    reporter = await ctx.kdf.receipt(receipts.normalise(receipt), installation.receipt_salt, may_refuse=False)
    case_key, staff_key = keys.new_key_pair(), keys.new_key_pair()
    public, staff_public = case_key.public_key, staff_key.public_key
    attachments = await asyncio.to_thread(seal_uploads, public, uploads)
    for number, attachment in enumerate(attachments, start=1):
        attachment.number = number
    routing = "audit_committee" if draft.concerns_leadership else "compliance_officer"

    # Accounting complaints reach the Audit Committee too; leadership reports reach only it.
    reader_roles = {routing}
    if draft.category in settings.audit_committee_categories:
        reader_roles.add("audit_committee")

    async with session.begin():
        # FOR SHARE: a recovery giving one of them a new key pair (recovery.py locks the row to
        # write it) waits for this filing, then re-grants this case too; or this filing waits
        # for the recovery and seals to the new key. Never to a key just discarded.
        readers = await session.scalars(
            select(Staff).where(Staff.role.in_(reader_roles), Staff.active.is_(True)).with_for_update(read=True)
        )
        grants = [
            Grant(
                holder="staff",
                staff_id=s.id,
                sealed_key=keys.grant(case_key, PublicKey(s.public_key)),
                staff_sealed_key=keys.grant(staff_key, PublicKey(s.public_key)),
            )
            for s in readers
        ]
        recovery = installation.recovery_public_key
        grants.append(
            Grant(
                holder="recovery",
                sealed_key=keys.grant(case_key, recovery),
                staff_sealed_key=keys.grant(staff_key, recovery),
            )
        )
        # The reporter gets the conversation key only: their receipt opens nothing staff-only.
        grants.append(Grant(holder="reporter", sealed_key=keys.grant(case_key, reporter.private_key.public_key)))
        case = Case(
            reference=await _new_reference(session, today.year),
            category=draft.category,
            routing=routing,
            channel=draft.channel,
            status="received",
            received_on=today,
            acknowledge_by=deadlines.acknowledge_by(today, settings.acknowledge_days),
            feedback_by=deadlines.feedback_by(today, None, days=settings.acknowledge_days, months=settings.feedback_months),
            public_key=bytes(public),
            staff_public_key=bytes(staff_public),
            report_box=boxes.seal_json(public, draft.sealed_fields()),
            identity_box=seal_identity(staff_public, draft.identity),
            receipt_lookup=reporter.lookup_id,
            grants=grants,
            attachments=attachments,
        )
        session.add(case)
        await session.flush()
        audit.reporter_event(session, "report.filed", case.id, today, routing)
        await notifications.new_report(session, settings, case, ctx.now())
    return receipt
