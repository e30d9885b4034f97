"""Sending the outbox with aiosmtplib: retries with backoff, each mail marked sent once.

A sender claims a batch (so a second sender skips it), sends it over one SMTP
connection, and marks each mail sent in its own small transaction. If the
process dies after the server accepted a mail but before it was marked, the
claim expires and the mail is sent again: delivery is at least once, and a
duplicate carries the same Message-ID, so mail clients can fold it. A mail is
never lost: it stays in the outbox until a server takes it.
"""

import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib
from sqlalchemy import or_, select, update

from .context import Context
from .models import OutboxMail
from .notifications import REPORTER_KINDS

log = logging.getLogger("speakup.outbox")
BATCH = 50
CLAIM = timedelta(minutes=2)
MAX_BACKOFF = timedelta(hours=1)


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    implicit_tls: bool
    starttls: bool | None  # None: when the server offers it
    username: str | None
    password: str | None

    def __repr__(self) -> str:
        return f"SmtpServer({self.host}:{self.port})"

    @classmethod
    def from_url(cls, url: str) -> "SmtpServer":
        """smtp://user:pass@host:587?starttls=require|auto|off, or smtps://host:465."""
        parts = urlsplit(url)
        if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
            raise ValueError("SPEAKUP_SMTP_URL must look like smtp://host:587 or smtps://host:465")
        mode = parse_qs(parts.query).get("starttls", ["auto"])[0]
        implicit = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if implicit else 587),
            implicit_tls=implicit,
            starttls=None if implicit else {"require": True, "auto": None, "off": False}[mode],
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


def _message(mail: OutboxMail, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.recipient
    message["Subject"] = mail.subject
    created = mail.created_at if mail.created_at.tzinfo else mail.created_at.replace(tzinfo=UTC)
    message["Date"] = format_datetime(created)
    # Stable per outbox row: a mail sent twice after a crash is recognisably the same mail.
    message["Message-ID"] = f"<speakup-outbox-{mail.id}@{sender.rpartition('@')[2] or 'speakup'}>"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(mail.body)
    return message


def _backoff(attempts: int) -> timedelta:
    return min(timedelta(minutes=1) * 2 ** max(attempts - 1, 0), MAX_BACKOFF)


async def send_due(ctx: Context, now: datetime) -> int:
    """Send what is due; return how many were sent. Failures are rescheduled, never dropped."""
    settings = ctx.settings
    if not settings.smtp_url:
        return 0
    server = SmtpServer.from_url(settings.smtp_url)
    async with ctx.sessions() as session, session.begin():
        due = (
            await session.scalars(
                select(OutboxMail)
                .where(
                    OutboxMail.sent_at.is_(None),
                    OutboxMail.next_attempt_at <= now,
                    or_(OutboxMail.claimed_until.is_(None), OutboxMail.claimed_until < now),
                )
                .order_by(OutboxMail.next_attempt_at, OutboxMail.id)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            )
        ).all()
        claim = now + CLAIM
        for mail in due:
            mail.claimed_until = claim
    if not due:
        return 0

    sent = 0
    client = aiosmtplib.SMTP(
        hostname=server.host,
        port=server.port,
        use_tls=server.implicit_tls,
        start_tls=server.starttls,
        username=server.username,
        password=server.password,
        timeout=30,
    )
    try:
        await client.connect()
    except (aiosmtplib.SMTPException, OSError) as error:
        await _failed(ctx, [m.id for m in due], type(error).__name__, now)
        log.warning("mail server unreachable (%s); %d mail(s) will be retried", type(error).__name__, len(due))
        return 0
    try:
        for index, mail in enumerate(due):
            # A slow server can outlast the claim: renew it for what is left, so no second
            # sender takes these mails while this one still works through them. A mail whose
            # claim another sender took meanwhile (this one stalled past it) is theirs now.
            claim, ours = await _renew(ctx, [m.id for m in due[index:]], claim)
            if mail.id not in ours:
                continue
            try:
                await client.send_message(_message(mail, settings.mail_from))
            except aiosmtplib.SMTPException as error:
                await _failed(ctx, [mail.id], type(error).__name__, now)
                continue
            async with ctx.sessions() as session, session.begin():
                row = await session.get_one(OutboxMail, mail.id)
                row.sent_at, row.claimed_until = now, None
                row.attempts += 1
                if row.kind in REPORTER_KINDS:  # when it waited till, and went, would time the reporter's act
                    row.sent_at = row.next_attempt_at = row.created_at  # the day it was written, at 00:00
            sent += 1
    except BaseException:
        client.close()  # dying (cancelled, say): drop the connection, do not wait on QUIT
        raise
    with contextlib.suppress(aiosmtplib.SMTPException, OSError):
        await client.quit()
    return sent


async def _renew(ctx: Context, ids: list[int], claim: datetime) -> tuple[datetime, set[int]]:
    """Extend this sender's claim (``claim``, as it set it) on ``ids``; return the new claim and the ids still held."""
    renewed = ctx.now() + CLAIM
    if renewed <= claim:
        return claim, set(ids)
    async with ctx.sessions() as session, session.begin():
        await session.execute(
            update(OutboxMail)
            .where(OutboxMail.id.in_(ids), OutboxMail.claimed_until == claim, OutboxMail.sent_at.is_(None))
            .values(claimed_until=renewed)
        )
        held = await session.scalars(select(OutboxMail.id).where(OutboxMail.id.in_(ids), OutboxMail.claimed_until == renewed))
        return renewed, set(held)


async def _failed(ctx: Context, ids: list[int], error: str, now: datetime) -> None:
    async with ctx.sessions() as session, session.begin():
        for mail in (await session.scalars(select(OutboxMail).where(OutboxMail.id.in_(ids)))).all():
            mail.attempts += 1
            mail.claimed_until = None
            mail.next_attempt_at = now + _backoff(mail.attempts)
            mail.last_error = error[:200]
