"""Which process runs the scheduled work: one at a time, and another when it dies.

Every web process runs a worker (``worker_in_app``) and any host may run ``speakup worker``,
but only the one holding the scheduler lock sends mail and runs the daily jobs. The others
try again every round, so when the holder dies another takes over within a round.

PostgreSQL: a session-level advisory lock, held by one connection kept for the purpose; the
server releases it when that connection ends (a crash, a partition), so a dead holder never
keeps it. SQLite: an exclusive ``flock`` on a file beside the database, which the kernel
releases when the process ends (SQLite serves one host, so a file lock reaches every process).
"""

import contextlib
import fcntl
import logging
import os
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from .context import Context

log = logging.getLogger("speakup.scheduler")
# Any fixed 64-bit number, the same in every process: "Speakup's scheduler".
ADVISORY_KEY = 0x5EA4_0001


class SchedulerLock:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._connection: AsyncConnection | None = None
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._connection is not None or self._fd is not None

    async def acquire(self) -> bool:
        """Hold the lock (again): True while this process is the scheduler."""
        url = make_url(self.ctx.settings.database_url)
        if url.get_backend_name() == "sqlite":
            return self._acquire_file(Path(f"{url.database}.scheduler.lock"))
        if self._connection is not None:
            try:  # still ours? a lost connection took the lock with it
                await self._connection.execute(text("SELECT 1"))
                await self._connection.commit()
                return True
            except Exception:
                await self.release()
        connection = await self.ctx.engine.connect()
        try:
            got = (await connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_KEY})).scalar_one()
            await connection.commit()  # the lock outlives the transaction; an idle transaction must not
        except Exception:
            await connection.close()
            raise
        if not got:
            await connection.close()
            return False
        self._connection = connection
        log.info("this process now runs the scheduled work")
        return True

    def _acquire_file(self, path: Path) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    async def release(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            with contextlib.suppress(Exception):  # closing the connection frees the lock anyway
                await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY})
                await connection.commit()
            with contextlib.suppress(Exception):
                await connection.close()
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the descriptor releases the flock
