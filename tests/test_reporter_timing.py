"""Nothing stored places a reporter's act finer than its day: not the ids of the rows it wrote,
not the order of the audit log, not the outbox (tests/test_notifications.py has the mail's side).

Each test is the attack: someone with a copy of the database lines the reporter's rows up
against rows that carry a time (a failed login anyone can cause, a staff reply)."""

from datetime import datetime, time, timedelta

from sqlalchemy import select

from cases import audit
from cases.models import Attachment, AuditEntry, Case, Grant, Message, OutboxMail, ReporterEvent, RetaliationFlag
from cases.worker import run_jobs
from tests.conftest import Reporter, StaffBrowser, case_for

REPORTER_WRITTEN = (Case, Grant, Message, Attachment, RetaliationFlag, OutboxMail)


async def ids(installed, model) -> set[int]:
    async with installed.ctx.sessions() as session:
        return set((await session.scalars(select(model.id))).all())


async def test_the_rows_a_reporter_writes_do_not_number_the_order_they_were_written_in(client, installed):
    """With sequential ids, the case, grant, message, file, flag and mail rows a reporter's act
    wrote sit between staff rows whose times are known (a staff reply is in the audit log to the
    second): their ids place the act within its day."""
    reporter = Reporter(client)
    new_ids: dict[str, list[int]] = {model.__tablename__: [] for model in REPORTER_WRITTEN}
    for n in range(10):
        before = {model: await ids(installed, model) for model in REPORTER_WRITTEN}
        receipt = await reporter.file(files=[("attachments", (f"{n}.txt", b"evidence", "text/plain"))])
        await reporter.write(receipt, "It goes on.", retaliation=True, files=[("attachments", ("more.txt", b"x", "text/plain"))])
        for model in REPORTER_WRITTEN:
            added = await ids(installed, model) - before[model]
            assert added, model.__tablename__
            new_ids[model.__tablename__].append(min(added))
    for table, written in new_ids.items():
        # Increasing (or decreasing) in the order written, by chance: 2 in 10!.
        assert written not in (sorted(written), sorted(written, reverse=True)), table


async def test_a_cases_conversation_keeps_its_order_by_its_own_numbers(client, browsers, installed):
    """Random ids order nothing, so a case numbers its messages and files itself: the conversation
    reads in the order it was written, and a file's URL is its number in the case."""
    reporter = Reporter(client)
    receipt = await reporter.file(files=[("attachments", ("first.txt", b"first", "text/plain"))])
    reference = (await case_for(installed.ctx, receipt)).reference
    officer = await browsers(installed.compliance_officer)
    for n in range(1, 6):
        assert (await officer.post(f"/staff/cases/{reference}/reply", {"body": f"Question {n}?"})).status_code == 303
        await reporter.write(
            receipt, f"Answer {n}.", files=[("attachments", (f"answer{n}.txt", f"file {n}".encode(), "text/plain"))]
        )
    page = (await officer.get(f"/staff/cases/{reference}")).text
    said = [page.index(f"Question {n}?") for n in range(1, 6)] + [page.index(f"Answer {n}.") for n in range(1, 6)]
    assert sorted(said) == [said[i // 2 + (5 if i % 2 else 0)] for i in range(10)]  # Q1 < A1 < Q2 < A2 ...
    assert (await officer.get(f"/staff/cases/{reference}/attachments/1")).content == b"first"
    for n in range(1, 6):
        assert (await officer.get(f"/staff/cases/{reference}/attachments/{n + 1}")).content == f"file {n}".encode()
    async with installed.ctx.sessions() as session:
        numbers = (await session.scalars(select(Message.number).order_by(Message.number))).all()
    assert list(numbers) == list(range(1, 11))


async def test_a_reporters_audit_entries_join_the_chain_only_after_their_day(client, app, installed, clock):
    """Written at once, a reporter's entry sits between timestamped ones (anyone can make one with
    a failed login), which time the act to the second. Held back, the day's entries join as one
    batch once the day is over, dated 00:00, after everything of that day."""
    ctx = installed.ctx
    day = clock().date()
    clock.moment = datetime.combine(day, time(10), tzinfo=clock.moment.tzinfo)
    stranger = StaffBrowser(app, clock, installed.compliance_officer.email, password="not the password")

    async def failed_login() -> None:
        assert (await stranger.login()).status_code == 401

    reporter = Reporter(client)
    await failed_login()
    clock.advance(minutes=30)
    receipt = await reporter.file()
    clock.advance(minutes=30)
    await failed_login()
    clock.advance(minutes=30)
    await reporter.write(receipt, "I was moved to the night shift.", retaliation=True)
    clock.advance(minutes=30)
    await failed_login()
    await stranger.aclose()

    await run_jobs(ctx)  # the worker, later the same day: nothing of the reporter's yet
    async with ctx.sessions() as session:
        actions = (await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id))).all()
    assert actions.count("login.failed") == 3
    assert not {"report.filed", "reporter.retaliation", "flag.opened"} & set(actions)

    clock.moment = datetime.combine(day + timedelta(days=1), time(0, 5), tzinfo=clock.moment.tzinfo)
    await run_jobs(ctx)
    await run_jobs(ctx)  # twice, as two workers would: the batch goes in once
    async with ctx.sessions() as session:
        entries = (await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
        assert (await audit.verify(session)).ok
        assert not (await session.scalars(select(ReporterEvent))).all()
    actions = [e.action for e in entries]
    last_login = max(i for i, a in enumerate(actions) if a == "login.failed")
    reporters = [e for e in entries if e.action in {"report.filed", "reporter.retaliation", "flag.opened"}]
    assert sorted(e.action for e in reporters) == ["flag.opened", "report.filed", "reporter.retaliation"]
    assert all(entries.index(e) > last_login for e in reporters)  # after every entry of their day
    assert all(e.at.time() == time(0) and e.at.date() == day for e in reporters)
