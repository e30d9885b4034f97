"""The reporter's side of a case, opened with nothing but the receipt.

The receipt derives (Argon2id) the lookup id that finds the case and the
reporter's private key that opens the reporter's grant. A wrong receipt costs
the same derivation as a right one, and the answer says only "unknown".

Each function here takes the receipt as typed (the JSON API: derived here, once per
request) or the keys it derived (the pages: derived once when the receipt is entered,
then carried in the sealed session cookie of cases/reporter_session.py).
"""

import asyncio
import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, cast

from nacl.public import PublicKey
from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from crypto import boxes, keys, receipts

from . import audit
from .content import Upload, check_uploads, seal_uploads
from .context import Context
from .errors import InvalidInput, InvalidReceipt, NeedsConfirmation, UnknownReceipt
from .filing import Report
from .minutes import MAX_MINUTES, MinutesView, minutes_views
from .models import Case, CheckIn, Grant, Message, Minutes
from .numbers import add_numbered
from .reporter_session import CHECK_BYTES, ReporterKeys, receipt_check
from .retaliation import open_flag
from .vocabulary import MINUTES_ANSWERS

MAX_MESSAGE = 20_000

# What a reporter is told of the status. Escalation is an internal step: to
# the reporter the case is still being investigated.
REPORTER_STATUS = {
    "received": "received",
    "acknowledged": "acknowledged",
    "investigating": "investigating",
    "escalated": "investigating",
    "concluded": "concluded",
    "closed": "closed",
}

# Who reads the reporter's messages and alerts, by the case's routing: the follow-up page's
# words, in one place. A report about leadership went to the Audit Committee only.
TEAM_WORDS = {
    "compliance_officer": {"team": "Compliance team", "alerted": "the Compliance Officer and the Audit Committee"},
    "audit_committee": {"team": "Audit Committee", "alerted": "the Audit Committee"},
}


@dataclass(frozen=True)
class AttachmentInfo:
    name: str
    size: int


@dataclass(frozen=True)
class ThreadMessage:
    sender: str
    body: str
    sent_on: date
    retaliation: bool
    attachments: list[AttachmentInfo] = field(default_factory=list)


@dataclass(frozen=True)
class PendingCheckIn:
    id: int
    days_after_closure: int


@dataclass(frozen=True)
class Mailbox:
    status: str
    received_on: date
    acknowledged_on: date | None
    acknowledge_by: date
    feedback_by: date
    report: Report
    attachments: list[AttachmentInfo]
    messages: list[ThreadMessage]
    check_ins: list[PendingCheckIn] = field(default_factory=list)
    # The day staff marked a reply as the feedback (EU Art. 9(1)(f)); None until then.
    feedback_given_on: date | None = None
    routing: str = "compliance_officer"
    closed_on: date | None = None
    minutes: list[MinutesView] = field(default_factory=list)

    @property
    def words(self) -> dict[str, str]:
        """Who reads the reporter's messages and alerts, named as the routing has it."""
        return TEAM_WORDS[self.routing]

    @property
    def feedback_due(self) -> bool:
        """Whether feedback is still to come by ``feedback_by``: not once given, nor on a closed case."""
        return self.feedback_given_on is None and self.status != "closed"

    def __repr__(self) -> str:
        return f"Mailbox(status={self.status!r})"


# A receipt as typed (the API), or the keys it derived (the pages, from their session cookie).
Reporter = str | ReporterKeys


async def derive_keys(ctx: Context, receipt: str) -> ReporterKeys:
    """The keys a typed receipt derives (one Argon2id run). Raises ``InvalidReceipt`` or ``Busy``."""
    if len(receipt) > receipts.MAX_TYPED:  # not even worth normalising
        raise InvalidReceipt()
    try:
        normalised = receipts.normalise(receipt)
    except receipts.MalformedReceipt:
        raise InvalidReceipt() from None
    installation = await ctx.installation()
    derived = await ctx.kdf.receipt(normalised, installation.receipt_salt)
    return ReporterKeys(derived.lookup_id, derived.private_key, receipt_check(normalised))


async def _derive(ctx: Context, reporter: Reporter) -> ReporterKeys:
    return reporter if isinstance(reporter, ReporterKeys) else await derive_keys(ctx, reporter)


# Read as crypto.receipts.normalise reads a receipt: I and L are 1, O is 0.
_LOOKALIKES = str.maketrans({"I": "1", "L": "1", "O": "0"})
_NOT_A_SYMBOL = re.compile(f"[^{receipts.ALPHABET}]+")


def contains_receipt(text: str, check: bytes) -> bool:
    """Whether ``text`` holds the receipt ``check`` was made from, however it was pasted or typed:
    any case, look-alike letters, and anything but letters and digits between its symbols
    (hyphens, spaces, dots, line breaks). Only the hash is compared; no receipt is kept."""
    letters = "".join(c for c in unicodedata.normalize("NFKC", text) if c.isalnum()).upper().translate(_LOOKALIKES)
    return any(
        receipt_check(run[i : i + receipts.SYMBOLS]) == check
        for run in _NOT_A_SYMBOL.split(letters)  # a letter of no receipt (U, é, ...) cannot be inside one
        for i in range(len(run) - receipts.SYMBOLS + 1)
    )


def _attachment_info(case_key, attachments) -> list[AttachmentInfo]:
    metas = (boxes.unseal_json(case_key, a.meta_box) for a in attachments)
    return [AttachmentInfo(name=m["name"], size=m["size"]) for m in metas]


async def read_mailbox(session: AsyncSession, ctx: Context, reporter: Reporter) -> Mailbox:
    """Everything the reporter may see of their case. Raises ``UnknownReceipt``."""
    found = await _derive(ctx, reporter)
    async with session.begin():
        case = await session.scalar(
            select(Case)
            .where(Case.receipt_lookup == found.lookup_id)
            .options(
                selectinload(Case.grants.and_(Grant.holder == "reporter")),
                # Internal notes of staff never reach the reporter.
                selectinload(Case.messages.and_(Message.sender != "note")).selectinload(Message.attachments),
                selectinload(Case.attachments),
            )
        )
        pending: Sequence[CheckIn] = []
        minutes: Sequence[Minutes] = []
        if case is not None:
            pending = (
                await session.scalars(
                    select(CheckIn)
                    .where(CheckIn.case_id == case.id, CheckIn.answered_on.is_(None))
                    .order_by(CheckIn.days_after_closure)
                )
            ).all()
            minutes = (await session.scalars(select(Minutes).where(Minutes.case_id == case.id).order_by(Minutes.number))).all()
    if case is None:
        raise UnknownReceipt()
    case_key = keys.open_grant(case.grants[0].sealed_key, found.private_key)
    messages = [
        ThreadMessage(
            sender=m.sender,
            body=boxes.unseal(case_key, m.body_box).decode("utf-8"),
            sent_on=m.sent_on,
            retaliation=m.retaliation,
            attachments=_attachment_info(case_key, m.attachments),
        )
        for m in case.messages
    ]
    return Mailbox(
        status=REPORTER_STATUS[case.status],
        received_on=case.received_on,
        acknowledged_on=case.acknowledged_on,
        acknowledge_by=case.acknowledge_by,
        feedback_by=case.feedback_by,
        report=Report.unsealed(boxes.unseal_json(case_key, case.report_box)),
        attachments=_attachment_info(case_key, [a for a in case.attachments if a.message_id is None]),
        messages=messages,
        # Several check-ins can be due at once; one answer covers them.
        check_ins=[PendingCheckIn(pending[-1].id, pending[-1].days_after_closure)] if pending else [],
        feedback_given_on=case.feedback_given_on,
        routing=case.routing,
        closed_on=case.closed_on if case.status == "closed" else None,
        minutes=minutes_views(minutes, case_key),
    )


def check_message(body: Any, uploads: list[Upload]) -> str:
    if not isinstance(body, str):
        raise InvalidInput(fields={"body": "Must be text."})
    body = body.strip()
    if len(body) > MAX_MESSAGE:
        raise InvalidInput(fields={"body": f"At most {MAX_MESSAGE:,} characters (this has {len(body):,})."})
    if not body and not uploads:
        raise InvalidInput(fields={"body": "Write a message or attach a file."})
    return body


def message_digest(body: str, retaliation: bool, uploads: list[Upload]) -> bytes:
    """What makes a reporter's message the same message: its text, its flag, its files' names and
    sizes. The pages keep the last one sent in their session (never stored), so the same form
    sent again (the browser's Back button, then Send) is recognised as sent already."""
    digest = hashlib.blake2b(digest_size=CHECK_BYTES, person=b"speakup-message")
    for part in (body.strip(), "1" if retaliation else "0", *(f"{u.name}\0{len(u.data)}" for u in uploads)):
        digest.update(part.encode("utf-8", "surrogatepass") + b"\0")
    return digest.digest()


async def send_reporter_message(
    session: AsyncSession,
    ctx: Context,
    reporter: Reporter,
    body: str,
    *,
    retaliation: bool,
    uploads: list[Upload],
    today: date,
    send_anyway: bool = False,
) -> None:
    """Add the reporter's message (and files) to the case; ``retaliation`` flags it.

    Sealing needs only the case's public key, so the reporter's grant is not
    opened: knowing the receipt (proved by the lookup id) is the permission.
    A message holding the reporter's own receipt (pasted by mistake: whoever reads
    the case could then act as the reporter) raises ``NeedsConfirmation`` unless
    ``send_anyway``.
    """
    body = check_message(body, uploads)
    check_uploads(uploads, ctx.settings)
    found = await _derive(ctx, reporter)
    if not send_anyway and contains_receipt(body, found.receipt_check):
        raise NeedsConfirmation(
            fields={
                "body": "Your message contains your receipt. Whoever reads it could open your report as you: "
                "remove the receipt, unless you really mean to send it."
            }
        )
    async with session.begin():
        case_id, public = await _case(session, found)
    # Encrypt before the write transaction, so the write lock waits on no file.
    attachments = await asyncio.to_thread(seal_uploads, public, uploads)
    for attachment in attachments:
        attachment.case_id = case_id
    async with session.begin():
        await add_numbered(
            session,
            Message(
                case_id=case_id,
                sender="reporter",
                sent_on=today,
                retaliation=retaliation,
                body_box=boxes.seal(public, body.encode("utf-8")),
                attachments=attachments,
            ),
        )
        if retaliation:
            await open_flag(session, ctx.settings, case_id, "reporter", ctx.now())
        audit.reporter_event(session, "reporter.retaliation" if retaliation else "reporter.message", case_id, today)


async def _case(session: AsyncSession, found: ReporterKeys) -> tuple[int, PublicKey]:
    """The id and conversation key of the case the reporter's keys find. Raises ``UnknownReceipt``."""
    row = (await session.execute(select(Case.id, Case.public_key).where(Case.receipt_lookup == found.lookup_id))).one_or_none()
    if row is None:
        raise UnknownReceipt()
    return row.id, PublicKey(row.public_key)


async def answer_check_in(
    session: AsyncSession, ctx: Context, reporter: Reporter, check_in_id: int, retaliation: bool, today: date
) -> None:
    """The reporter's answer to a post-closure check-in; "yes" opens a retaliation flag. Commits."""
    found = await _derive(ctx, reporter)
    async with session.begin():
        case_id, _ = await _case(session, found)
        pending = (await session.scalars(select(CheckIn).where(CheckIn.case_id == case_id, CheckIn.answered_on.is_(None)))).all()
        if check_in_id not in {c.id for c in pending}:
            raise InvalidInput(fields={"check_in": "This question has been answered already."})
        for check_in in pending:
            check_in.answered_on, check_in.retaliation = today, retaliation
        audit.reporter_event(session, "check_in.answered", case_id, today)
        if retaliation:
            await open_flag(session, ctx.settings, case_id, "check_in", ctx.now())


async def open_mailbox(session: AsyncSession, ctx: Context, receipt: str) -> ReporterKeys:
    """The keys of a typed receipt that opens a case (the pages keep them in their session).
    Raises ``InvalidReceipt``, ``Busy`` or ``UnknownReceipt``."""
    found = await derive_keys(ctx, receipt)
    async with session.begin():
        await _case(session, found)
    return found


async def answer_minutes(
    session: AsyncSession, ctx: Context, reporter: Reporter, number: int, answer: str, correction: str, today: date
) -> None:
    """The reporter confirms minutes of a call or meeting, or corrects them (EU Art. 18(2)-(4)).
    Answered once; the answer keeps its day only, like every act of a reporter. Commits."""
    if not isinstance(answer, str) or answer not in MINUTES_ANSWERS:
        raise InvalidInput(fields={"answer": "Confirm the minutes, or correct them."})
    if not isinstance(correction, str):
        raise InvalidInput(fields={"correction": "Must be text."})
    correction = correction.strip()
    if answer == "corrected" and not correction:
        raise InvalidInput(fields={"correction": "Say what is wrong or missing in these minutes."})
    if answer == "confirmed" and correction:  # a correction typed, then the wrong button
        raise InvalidInput(fields={"correction": "You wrote a correction: send it as one, or clear it to confirm the minutes."})
    if len(correction) > MAX_MINUTES:
        raise InvalidInput(fields={"correction": f"At most {MAX_MINUTES:,} characters (this has {len(correction):,})."})
    found = await _derive(ctx, reporter)
    async with session.begin():
        case_id, public = await _case(session, found)
        values: dict[str, Any] = {"answer": answer, "answered_on": today}
        if correction:
            values["correction_box"] = boxes.seal(public, correction.encode("utf-8"))
        # Only while unanswered: of two answers sent at once, one is kept and the other refused.
        answered = await session.execute(
            update(Minutes).where(Minutes.case_id == case_id, Minutes.number == number, Minutes.answer.is_(None)).values(**values)
        )
        if cast(CursorResult, answered).rowcount != 1:
            raise InvalidInput(fields={"minutes": "These minutes have been answered already (or there are no such minutes)."})
        audit.reporter_event(session, f"minutes.{answer}", case_id, today, f"minutes {number}")
