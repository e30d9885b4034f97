"""Mail through the outbox to a real SMTP server (aiosmtpd) on loopback."""

import asyncio
import threading
from datetime import time, timedelta

import pytest
from sqlalchemy import select, update

from cases.models import Case, OutboxMail, Staff
from cases.notifications import digests, reminders
from cases.outbox import send_due
from cases.retaliation import deliver_check_ins
from tests.conftest import STAFF_PASSWORD, Reporter, identity_of

CANARY = "MailCanary4c1d"


async def deliver(installed, clock, hours: float = 31) -> int:
    """Run the sender at a later moment (reporter-caused mails wait for the next day's digest
    hour: 31 hours later is past it, whatever the hour now)."""
    clock.advance(hours=hours)
    return await send_due(installed.ctx, clock())


async def pending(installed) -> list[OutboxMail]:
    async with installed.ctx.sessions() as session:
        return list((await session.scalars(select(OutboxMail).where(OutboxMail.sent_at.is_(None)))).all())


async def test_a_new_report_mails_its_readers_and_no_one_else(client, installed, smtp, clock):
    await Reporter(client).file(
        {"summary": CANARY, "details": CANARY, "anonymity": "confidential", "name": CANARY, "contact": "reporter@example.org"}
    )
    assert await send_due(installed.ctx, clock()) == 0  # held to the next day's digest hour
    assert await deliver(installed, clock) == 1
    [mail] = smtp.to(installed.compliance_officer.email)
    assert mail["Subject"] == "Speakup: a new report has arrived"
    assert "/staff/" in mail.get_content()
    assert not smtp.to(installed.audit_committee.email) and not smtp.to(installed.investigator.email)
    assert not smtp.to("reporter@example.org")  # no reporter is ever mailed


async def test_leadership_and_accounting_reports_mail_the_committee(client, installed, smtp, clock):
    await Reporter(client).file({"concerns_leadership": "yes"})
    await deliver(installed, clock)
    assert smtp.to(installed.audit_committee.email) and not smtp.to(installed.compliance_officer.email)
    smtp.messages.clear()
    await Reporter(client).file({"category": "books_records"})
    await deliver(installed, clock)
    assert smtp.to(installed.audit_committee.email) and smtp.to(installed.compliance_officer.email)


async def test_escalation_mails_the_committee(client, installed, smtp, clock, browsers):
    async with installed.ctx.sessions() as session:
        from cases.accounts import create_staff

        second = await create_staff(
            session, installed.ctx, email="member2@example.test", role="audit_committee", password=STAFF_PASSWORD
        )
    await Reporter(client).file()
    await deliver(installed, clock)
    smtp.messages.clear()
    officer = await browsers(installed.compliance_officer)
    async with installed.ctx.sessions() as session:
        reference = await session.scalar(select(Case.reference))
    await officer.post(f"/staff/cases/{reference}/escalate", {"reason": "conflict of interest"})
    await deliver(installed, clock, hours=0)
    recipients = sorted(r for rcpts, _ in smtp.messages for r in rcpts)
    assert recipients == sorted([installed.audit_committee.email, second.email])
    assert all(m["Subject"] == "Speakup: a case was escalated to the Audit Committee" for _, m in smtp.messages)


@pytest.mark.parametrize(
    ("leadership", "expected"), [(False, {"compliance_officer", "audit_committee"}), (True, {"audit_committee"})]
)
async def test_a_retaliation_flag_mails_at_once(client, installed, smtp, clock, leadership, expected):
    reporter = Reporter(client)
    receipt = await reporter.file({"concerns_leadership": "yes"} if leadership else {})
    await deliver(installed, clock)
    smtp.messages.clear()
    await reporter.write(receipt, f"{CANARY} I was demoted.", retaliation=True)
    await deliver(installed, clock)
    emails = {getattr(installed, role).email for role in expected}
    assert {
        r for rcpts, m in smtp.messages if m["Subject"] == "Speakup: someone may be facing retaliation" for r in rcpts
    } == emails
    assert all(CANARY not in m.get_content() for _, m in smtp.messages)


async def test_account_events_mail_the_account(browsers, installed, smtp, clock, app):
    officer = await browsers(installed.compliance_officer)
    await officer.post(
        "/staff/password",
        {"current_password": STAFF_PASSWORD, "new_password": "another passphrase", "repeat_password": "another passphrase"},
    )
    ctx = installed.ctx
    async with ctx.sessions() as session:
        from cases.accounts import create_staff, update_staff

        admin = await create_staff(session, ctx, email="admin@example.test", role="admin", password=STAFF_PASSWORD)
    async with ctx.sessions() as session:
        await update_staff(session, ctx, await identity_of(installed, admin), installed.investigator.id, reset_second_factor=True)
    await deliver(installed, clock, hours=0)
    assert "was changed" in smtp.to(installed.compliance_officer.email)[0].get_content()
    assert "was reset" in smtp.to(installed.investigator.email)[0].get_content()


async def test_a_new_account_that_can_read_cases_is_announced_to_the_officers_and_the_committee(installed, smtp, clock):
    from cases.accounts import create_staff, update_staff

    ctx = installed.ctx
    async with ctx.sessions() as session:
        admin = await create_staff(session, ctx, email="admin@example.test", role="admin", password=STAFF_PASSWORD)
    async with ctx.sessions() as session:
        await create_staff(
            session,
            ctx,
            email="shadow@example.test",
            role="compliance_officer",
            password=STAFF_PASSWORD,
            actor=await identity_of(installed, admin),
        )
    async with ctx.sessions() as session:
        await update_staff(session, ctx, await identity_of(installed, admin), installed.investigator.id, role="audit_committee")
    await deliver(installed, clock, hours=0)
    announced = [m for m in smtp.to(installed.audit_committee.email) if m["Subject"] == "Speakup: a new account can read cases"]
    texts = sorted(m.get_content() for m in announced)  # sent in no set order
    assert len(texts) == 2 and "investigator@example.test" in texts[0] and "shadow@example.test" in texts[1]
    assert len(smtp.to(installed.compliance_officer.email)) == 2
    assert not smtp.to("admin@example.test")


async def test_deadline_reminders_are_sent_once_per_deadline(client, installed, smtp, clock):
    ctx = installed.ctx
    today = clock().date()
    await Reporter(client).file()
    await Reporter(client).file()
    async with ctx.sessions() as session, session.begin():
        first, second = (await session.scalars(select(Case))).all()
        first.acknowledge_by = today + timedelta(days=2)  # due soon
        second.acknowledge_by = today - timedelta(days=1)  # overdue
    for _ in range(2):  # the scheduler runs often; each reminder goes once
        async with ctx.sessions() as session, session.begin():
            await reminders(session, ctx.settings, today, clock())
    await deliver(installed, clock)
    subjects = sorted(m["Subject"] for m in smtp.to(installed.compliance_officer.email))
    assert subjects == [
        "Speakup: a new report has arrived",
        "Speakup: a new report has arrived",
        "Speakup: a report is due for acknowledgement",
        "Speakup: a report is overdue for acknowledgement",
    ]
    async with ctx.sessions() as session, session.begin():
        await session.execute(update(Case).values(status="investigating", feedback_by=today + timedelta(days=10)))
        await reminders(session, ctx.settings, today, clock())
    await deliver(installed, clock, hours=0)
    assert sum(m["Subject"] == "Speakup: feedback to a reporter is due" for m in smtp.to(installed.compliance_officer.email)) == 2


async def test_the_digest_comes_at_the_set_hour_even_when_nothing_is_due(installed, smtp, clock):
    ctx = installed.ctx
    async with ctx.sessions() as session, session.begin():
        await session.execute(update(Staff).where(Staff.id == installed.audit_committee.id).values(wants_digest=True))
    clock.moment = clock.moment.replace(hour=ctx.settings.digest_hour - 1, minute=0)
    async with ctx.sessions() as session, session.begin():
        assert await digests(session, ctx.settings, clock().date(), clock()) == 0  # not yet
    clock.advance(hours=1)
    for _ in range(2):
        async with ctx.sessions() as session, session.begin():
            await digests(session, ctx.settings, clock().date(), clock())
    await deliver(installed, clock, hours=0)
    [digest] = smtp.to(installed.audit_committee.email)
    assert "reports awaiting acknowledgement: 0" in digest.get_content()
    assert not smtp.to(installed.compliance_officer.email)


async def test_a_committee_members_digest_carries_the_audit_head_and_no_one_elses_does(installed, smtp, clock):
    """The head, mailed daily, sits outside the database: a log later cut back before it is caught
    by `speakup audit verify --expect-head`."""
    import re

    from cases import audit
    from cases.models import AuditHead
    from cases.worker import run_jobs

    ctx = installed.ctx
    readers = [installed.audit_committee.id, installed.investigator.id, installed.compliance_officer.id]
    async with ctx.sessions() as session, session.begin():
        await session.execute(update(Staff).where(Staff.id.in_(readers)).values(wants_digest=True))
        head = (await session.scalar(select(AuditHead.entry_hash))).hex()
    clock.moment = clock.moment.replace(hour=ctx.settings.digest_hour, minute=5)
    await run_jobs(ctx)  # the worker's daily jobs
    await deliver(installed, clock, hours=0)
    [committee] = smtp.to(installed.audit_committee.email)
    text = committee.get_content().replace("\r\n", "\n")
    assert f"Audit log head (keep this mail: it anchors the log outside the database):\n{head}\n" in text
    for other in (installed.investigator.email, installed.compliance_officer.email):
        [digest] = smtp.to(other)
        assert "Audit log head" not in digest.get_content() and head not in digest.as_string()
    # The mailed head is what a later check is held to.
    mailed = bytes.fromhex(re.search(r"^([0-9a-f]{64})$", text, re.MULTILINE).group(1))
    async with ctx.sessions() as session, session.begin():
        await audit.record(session, "test.later", at=clock())
    async with ctx.sessions() as session:
        later = await audit.verify(session, expect_head=mailed)
    assert later.ok and later.added_since == 1


async def test_mail_server_down_then_up_delivers_everything_once(client, installed, smtp, clock):
    await Reporter(client).file()
    smtp.stop()
    assert await deliver(installed, clock) == 0
    [mail] = await pending(installed)
    assert mail.attempts == 1 and mail.last_error and mail.next_attempt_at is not None
    assert await send_due(installed.ctx, clock()) == 0  # backing off
    smtp.start()
    assert await deliver(installed, clock, hours=0.1) == 1
    assert await deliver(installed, clock) == 0
    assert len(smtp.to(installed.compliance_officer.email)) == 1
    assert await pending(installed) == []


@pytest.fixture
def certificate(tmp_path, monkeypatch):
    """A self-signed certificate for 127.0.0.1, trusted by this test's TLS clients."""
    import ssl
    import subprocess

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # what the client trusts, as a CA bundle would be set
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


@pytest.mark.parametrize("mode", ["implicit", "starttls"])
@pytest.mark.backend_agnostic
async def test_mail_goes_over_tls_and_refuses_an_untrusted_server(client, installed, smtp, clock, certificate, monkeypatch, mode):
    from dataclasses import replace

    smtp.stop()
    if mode == "implicit":
        smtp.start(ssl_context=certificate)
        url = f"smtps://127.0.0.1:{smtp.port}"
    else:
        smtp.start(tls_context=certificate, require_starttls=True)
        url = f"smtp://127.0.0.1:{smtp.port}?starttls=require"
    installed.ctx.settings = replace(installed.ctx.settings, smtp_url=url)
    await Reporter(client).file()
    assert await deliver(installed, clock) == 1
    assert len(smtp.to(installed.compliance_officer.email)) == 1
    # A server whose certificate is not trusted gets nothing, and the mail waits.
    monkeypatch.delenv("SSL_CERT_FILE")
    await Reporter(client).file()
    assert await deliver(installed, clock) == 0
    [waiting] = await pending(installed)
    assert waiting.attempts == 1 and waiting.last_error


async def test_a_crash_between_send_and_mark_loses_no_mail(client, installed, smtp, clock):
    """The server has the mail, the sender dies before marking it: it is sent again
    (the documented duplicate, with the same Message-ID), never lost."""
    await Reporter(client).file()
    clock.advance(hours=31)
    smtp.hold = threading.Event()
    sender = asyncio.create_task(send_due(installed.ctx, clock()))
    for _ in range(200):
        if smtp.messages:
            break
        await asyncio.sleep(0.01)
    assert smtp.messages, "the server never got the mail"
    sender.cancel()  # the process dies here
    with pytest.raises(asyncio.CancelledError):
        await sender
    smtp.hold.set()  # the server answers 250 to a client that is gone
    smtp.hold = None
    [mail] = await pending(installed)  # not marked sent
    assert await send_due(installed.ctx, clock()) == 0  # still claimed by the dead sender
    assert await deliver(installed, clock, hours=0.1) == 1  # the claim expired: sent again
    copies = smtp.to(installed.compliance_officer.email)
    assert len(copies) == 2 and copies[0]["Message-ID"] == copies[1]["Message-ID"]
    assert await pending(installed) == []


async def test_no_mail_carries_anything_of_a_canary_report(client, browsers, installed, smtp, clock):
    from dataclasses import replace

    installed.ctx.settings = replace(installed.ctx.settings, mail_case_reference=True)
    reporter = Reporter(client)
    receipt = await reporter.file(
        {
            "summary": CANARY,
            "details": CANARY,
            "people": CANARY,
            "country": CANARY,
            "anonymity": "confidential",
            "name": CANARY,
            "contact": CANARY,
        }
    )
    await reporter.write(receipt, CANARY, retaliation=True)
    officer = await browsers(installed.compliance_officer)
    async with installed.ctx.sessions() as session:
        reference = await session.scalar(select(Case.reference))
    await officer.post(f"/staff/cases/{reference}/escalate", {"reason": CANARY})
    for step in ("investigate",):
        await officer.post(f"/staff/cases/{reference}/{step}")
    async with installed.ctx.sessions() as session, session.begin():
        await reminders(session, installed.ctx.settings, clock().date() + timedelta(days=30), clock())
    async with installed.ctx.sessions() as session:
        await deliver_check_ins(session, installed.ctx, clock().date())
    await deliver(installed, clock)
    assert len(smtp.messages) >= 4
    for _, message in smtp.messages:
        text = message.as_string()
        assert CANARY not in text and "Bribery" not in text and "foreign_bribery" not in text
    assert any(reference in m["Subject"] or reference in m.get_content() for _, m in smtp.messages)  # the setting allows it


async def test_a_report_mail_waits_for_the_next_day_whatever_the_hour_of_filing(client, installed, smtp, clock):
    """Held to the next whole hour, a waiting mail's send time gave the hour of filing to anyone with
    the database, and the mail server's log gave it to anyone with that. Reports filed at the first
    and the last minute of a day wait for the same moment: the next day's digest hour."""
    clock.moment = clock.moment.replace(hour=0, minute=1)
    await Reporter(client).file()
    clock.moment = clock.moment.replace(hour=23, minute=59)
    await Reporter(client).file()
    waiting = await pending(installed)
    assert len(waiting) == 2 and len({(m.created_at, m.next_attempt_at) for m in waiting}) == 1
    [due] = {m.next_attempt_at for m in waiting}
    assert (due.date() - clock().date()).days == 1 and due.hour == installed.ctx.settings.digest_hour
    clock.moment = clock.moment.replace(hour=23, minute=59) + timedelta(hours=installed.ctx.settings.digest_hour)
    assert await send_due(installed.ctx, clock()) == 0  # a minute early
    assert await deliver(installed, clock, hours=1 / 60) == 2


async def test_a_sent_report_mail_keeps_only_the_day_it_was_written(client, installed, smtp, clock):
    """Left in the outbox, the hour a mail went would date the reporter's act for anyone with the
    database, long after."""
    await Reporter(client).file()
    assert await deliver(installed, clock) == 1
    async with installed.ctx.sessions() as session:
        [mail] = (await session.scalars(select(OutboxMail).where(OutboxMail.kind == "new_report"))).all()
    stamps = [mail.created_at, mail.next_attempt_at, mail.sent_at]
    assert all(stamp is not None and stamp.time() == time(0) for stamp in stamps), stamps
    assert len({stamp.date() for stamp in stamps}) == 1  # the day it was written, all three
