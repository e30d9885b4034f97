"""The background worker: sends the outbox, and runs the periodic jobs (reminders, check-ins,
digests, the purge of expired staff sessions, and the reporters' audit entries of past days).

It runs inside the web process (``worker_in_app``, the default) or on its own
as ``speakup worker``; of all of them, only the holder of the scheduler lock
works (``scheduler.py``). Every job is idempotent (reminders, digests and
check-ins are once-only by key), so two workers, or a restart, repeat nothing.
"""

import asyncio
import logging

from . import audit, auth, notifications
from .context import Context
from .outbox import send_due
from .retaliation import deliver_check_ins
from .scheduler import SchedulerLock

log = logging.getLogger("speakup.worker")
SEND_EVERY = 20  # seconds
JOBS_EVERY = 600


async def run_jobs(ctx: Context) -> None:
    """Expired staff sessions purged; reminders, digests and check-ins for today (safe to run as often as you like)."""
    now = ctx.now()
    async with ctx.sessions() as session, session.begin():
        await auth.purge_expired_sessions(session, now)
    async with ctx.sessions() as session, session.begin():
        await audit.append_past_days(session, now.date())
    async with ctx.sessions() as session, session.begin():
        await notifications.reminders(session, ctx.settings, now.date(), now)
        await notifications.digests(session, ctx.settings, now.date(), now)
    async with ctx.sessions() as session:
        await deliver_check_ins(session, ctx, now.date())


async def run_forever(ctx: Context) -> None:
    """Every round: if this process holds the scheduler lock (or can take it), do the work."""
    lock = SchedulerLock(ctx)
    last_jobs = None
    try:
        while True:
            try:
                if await lock.acquire():
                    now = ctx.now()
                    if last_jobs is None or (now - last_jobs).total_seconds() >= JOBS_EVERY:
                        await run_jobs(ctx)
                        last_jobs = now
                    await send_due(ctx, now)
                else:
                    last_jobs = None  # should this process take over, it runs the jobs at once
            except asyncio.CancelledError:
                raise
            except Exception as error:  # keep going; the next round retries
                log.error("worker round failed: %s", type(error).__name__)
            await asyncio.sleep(SEND_EVERY)
    finally:
        await lock.release()
