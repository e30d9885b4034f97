"""Argon2id runs off the event loop, a bounded number at a time.

Each run takes ``memlimit`` bytes (64 MiB by default). Runs go to worker
threads (libsodium releases the GIL, so they use every core) under a
semaphore, so a flood of receipts or logins queues instead of exhausting
memory: at most ``concurrency x memlimit`` is ever in use.
"""

import asyncio

from crypto import kdf
from crypto.kdf import Argon2Params, PasswordKeys, ReceiptKeys


class KdfPool:
    def __init__(self, params: Argon2Params, concurrency: int) -> None:
        self.params = params
        self._slots = asyncio.Semaphore(concurrency)

    async def receipt(self, normalised_receipt: str, salt: bytes) -> ReceiptKeys:
        async with self._slots:
            return await asyncio.to_thread(kdf.receipt_keys, normalised_receipt, salt, self.params)

    async def password(self, password: str, salt: bytes) -> PasswordKeys:
        async with self._slots:
            return await asyncio.to_thread(kdf.password_keys, password, salt, self.params)
