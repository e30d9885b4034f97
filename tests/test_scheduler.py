"""Scheduled work runs in one process at a time, another takes over when it dies, and a slow
mail server does not make a second sender send the same mails."""

import asyncio
from datetime import timedelta

from sqlalchemy import text

from cases import notifications
from cases.context import Context
from cases.outbox import send_due
from cases.scheduler import SchedulerLock
from cases.worker import run_forever


async def test_one_process_holds_the_scheduler_lock_and_another_takes_over_when_it_dies(installed, settings):
    first, second = Context(settings), Context(settings)
    holder, waiting = SchedulerLock(first), SchedulerLock(second)
    try:
        assert await holder.acquire() and await holder.acquire()  # holds it, round after round
        assert not await waiting.acquire()
        if settings.database_url.startswith("postgresql"):
            # The holder's database connection dies (a crash, a partition): the server frees the lock.
            async with second.engine.connect() as connection:
                ended = await connection.execute(
                    text("SELECT pg_terminate_backend(pid, 5000) FROM pg_locks WHERE locktype = 'advisory' AND objid = :key"),
                    {"key": 0x5EA40001},
                )
                assert ended.scalars().all() == [True]
                await connection.commit()
        else:
            await holder.release()  # the process ends: the kernel frees the file lock
        assert await waiting.acquire()  # the other process takes over ...
        assert not await holder.acquire()  # ... and the old holder, if it lives on, knows it no longer holds it
    finally:
        for lock in (holder, waiting):
            await lock.release()
        await first.close()
        await second.close()


async def test_two_workers_send_each_mail_once(installed, smtp, settings, clock):
    """Every web process runs a worker; only the scheduler lock's holder sends."""
    ctx = installed.ctx
    async with ctx.sessions() as session, session.begin():
        for n in range(6):
            await notifications.enqueue(
                session, ctx.settings, [f"staff{n}@example.test"], "account", "Speakup: test", "x", ctx.now()
            )
    other = Context(ctx.settings)
    other.clock = clock
    workers = [asyncio.create_task(run_forever(c)) for c in (ctx, other)]
    try:
        for _ in range(300):
            if len(smtp.messages) >= 6:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)
    finally:
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        await other.close()
    assert sorted(to for to, _ in smtp.messages) == [[f"staff{n}@example.test"] for n in range(6)]


async def test_a_slow_mail_server_does_not_make_a_second_sender_repeat_the_batch(installed, smtp, clock):
    """With a fixed two-minute claim, a batch that takes longer to send was claimed again by the
    next sender and partly sent twice. The sender renews its claim as it goes."""
    ctx = installed.ctx
    async with ctx.sessions() as session, session.begin():
        for n in range(4):
            await notifications.enqueue(
                session, ctx.settings, [f"slow{n}@example.test"], "account", "Speakup: test", "x", ctx.now()
            )
    receive = smtp.handle_DATA
    second_sender: list[int] = []
    app_loop = asyncio.get_running_loop()  # the SMTP server answers from a thread of its own

    async def slow(server, session, envelope):
        clock.advance(seconds=90)  # each mail takes a minute and a half
        answer = await receive(server, session, envelope)
        if len(smtp.messages) == 2:  # the next round of another sender, mid-batch
            round_ = asyncio.run_coroutine_threadsafe(send_due(ctx, clock()), app_loop)
            second_sender.append(await asyncio.wrap_future(round_))
        return answer

    smtp.handle_DATA = slow
    assert await send_due(ctx, clock()) == 4
    assert second_sender == [0]
    assert len(smtp.messages) == 4
    clock.advance(minutes=10)
    assert await send_due(ctx, clock() + timedelta(minutes=10)) == 0
