"""The reporter's side of a case, opened with nothing but the receipt.

The receipt derives (Argon2id) the lookup id that finds the case and the
reporter's private key that opens the reporter's grant. A wrong receipt costs
the same derivation as a right one, and the answer says only "unknown".
"""

import asyncio
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from nacl.public import PublicKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from crypto import boxes, keys, receipts
from crypto.kdf import ReceiptKeys

from . import audit
from .content import Upload, check_uploads, seal_uploads
from .context import Context
from .errors import InvalidInput, InvalidReceipt, UnknownReceipt
from .filing import Report
from .models import Case, CheckIn, Grant, Message
from .numbers import add_numbered
from .retaliation import open_flag

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

    def __repr__(self) -> str:
        return f"Mailbox(status={self.status!r})"


async def _derive(ctx: Context, receipt: str) -> ReceiptKeys:
    if len(receipt) > receipts.MAX_TYPED:  # not even worth normalising
        raise InvalidReceipt()
    try:
        normalised = receipts.normalise(receipt)
    except receipts.MalformedReceipt:
        raise InvalidReceipt() from None
    installation = await ctx.installation()
    return await ctx.kdf.receipt(normalised, installation.receipt_salt)


def _attachment_info(case_key, attachments) -> list[AttachmentInfo]:
    metas = (boxes.unseal_json(case_key, a.meta_box) for a in attachments)
    return [AttachmentInfo(name=m["name"], size=m["size"]) for m in metas]


async def read_mailbox(session: AsyncSession, ctx: Context, receipt: str) -> Mailbox:
    """Everything the reporter may see of their case. Raises ``UnknownReceipt``."""
    reporter = await _derive(ctx, receipt)
    async with session.begin():
        case = await session.scalar(
            select(Case)
            .where(Case.receipt_lookup == reporter.lookup_id)
            .options(
                selectinload(Case.grants.and_(Grant.holder == "reporter")),
                # Internal notes of staff never reach the reporter.
                selectinload(Case.messages.and_(Message.sender != "note")).selectinload(Message.attachments),
                selectinload(Case.attachments),
            )
        )
        pending = (
            []
            if case is None
            else (
                await session.scalars(
                    select(CheckIn)
                    .where(CheckIn.case_id == case.id, CheckIn.answered_on.is_(None))
                    .order_by(CheckIn.days_after_closure)
                )
            ).all()
        )
    if case is None:
        raise UnknownReceipt()
    case_key = keys.open_grant(case.grants[0].sealed_key, reporter.private_key)
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


async def send_reporter_message(
    session: AsyncSession,
    ctx: Context,
    receipt: str,
    body: str,
    *,
    retaliation: bool,
    uploads: list[Upload],
    today: date,
) -> None:
    """Add the reporter's message (and files) to the case; ``retaliation`` flags it.

    Sealing needs only the case's public key, so the reporter's grant is not
    opened: knowing the receipt (proved by the lookup id) is the permission.
    """
    body = check_message(body, uploads)
    check_uploads(uploads, ctx.settings)
    reporter = await _derive(ctx, receipt)
    async with session.begin():
        found = (
            await session.execute(select(Case.id, Case.public_key).where(Case.receipt_lookup == reporter.lookup_id))
        ).one_or_none()
    if found is None:
        raise UnknownReceipt()
    case_id, public = found.id, PublicKey(found.public_key)
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


async def answer_check_in(
    session: AsyncSession, ctx: Context, receipt: str, check_in_id: int, retaliation: bool, today: date
) -> None:
    """The reporter's answer to a post-closure check-in; "yes" opens a retaliation flag. Commits."""
    reporter = await _derive(ctx, receipt)
    async with session.begin():
        case_id = await session.scalar(select(Case.id).where(Case.receipt_lookup == reporter.lookup_id))
        if case_id is None:
            raise UnknownReceipt()
        pending = (await session.scalars(select(CheckIn).where(CheckIn.case_id == case_id, CheckIn.answered_on.is_(None)))).all()
        if check_in_id not in {c.id for c in pending}:
            raise InvalidInput(fields={"check_in": "This question has been answered already."})
        for check_in in pending:
            check_in.answered_on, check_in.retaliation = today, retaliation
        audit.reporter_event(session, "check_in.answered", case_id, today)
        if retaliation:
            await open_flag(session, ctx.settings, case_id, "check_in", ctx.now())
