"""Argon2id runs off the event loop, a bounded number at a time.

Each run takes ``memlimit`` bytes (64 MiB by default). Runs go to worker
threads (libsodium releases the GIL, so they use every core) under a
semaphore, so a flood of receipts or logins queues instead of exhausting
memory: at most ``concurrency x memlimit`` is ever in use.

The queue is bounded too: past ``QUEUE_PER_SLOT`` waiting runs per slot, a
receipt lookup or a login is refused at once with ``Busy`` (503, Retry-After)
instead of waiting behind a flood for as long as the flood lasts; the form
keeps what was typed. A new report is never refused so: it waits its turn,
since a report sent away might not be sent again.
"""

import asyncio
from collections.abc import Callable
from typing import TypeVar

from crypto import kdf
from crypto.kdf import Argon2Params, PasswordKeys, ReceiptKeys

from .errors import SpeakupError

# Each run takes well under a second at the default cost: 16 waiting per slot is a few seconds' wait at most.
QUEUE_PER_SLOT = 16
T = TypeVar("T")


class Busy(SpeakupError):
    status = 503
    code = "busy"
    detail = "The channel is very busy just now. Nothing was lost: try again in a moment."
    retry_after = 5


class KdfPool:
    def __init__(self, params: Argon2Params, concurrency: int) -> None:
        self.params = params
        self._slots = asyncio.Semaphore(concurrency)
        self._bound = concurrency * (1 + QUEUE_PER_SLOT)
        self._in_flight = 0  # running and waiting

    @property
    def in_flight(self) -> int:
        """Runs going on and waiting (for tests and benchmarks)."""
        return self._in_flight

    async def _run(self, function: Callable[..., T], *args, may_refuse: bool = True) -> T:
        if may_refuse and self._in_flight >= self._bound:
            raise Busy()
        self._in_flight += 1
        try:
            async with self._slots:
                return await asyncio.to_thread(function, *args)
        finally:
            self._in_flight -= 1

    async def receipt(self, normalised_receipt: str, salt: bytes, *, may_refuse: bool = True) -> ReceiptKeys:
        """``may_refuse=False`` for a new report: it waits its turn however long the queue."""
        return await self._run(kdf.receipt_keys, normalised_receipt, salt, self.params, may_refuse=may_refuse)

    async def password(self, password: str, salt: bytes) -> PasswordKeys:
        return await self._run(kdf.password_keys, password, salt, self.params)
