"""Setting up an installation: the receipt salt and the organisation's recovery key."""

import os
import secrets
from datetime import date
from pathlib import Path

from nacl.public import PrivateKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crypto import keys
from crypto.kdf import SALT_BYTES

from .audit import GENESIS
from .models import AuditHead, Installation


class AlreadyInitialised(Exception):
    pass


async def initialise(session: AsyncSession, today: date) -> PrivateKey:
    """Create the installation row; return the recovery private key, which is not stored. Commits."""
    recovery = keys.new_key_pair()
    async with session.begin():
        if await session.scalar(select(Installation.id)) is not None:
            raise AlreadyInitialised("this installation is already initialised")
        session.add(
            Installation(
                id=1,
                receipt_salt=secrets.token_bytes(SALT_BYTES),
                recovery_public_key=bytes(recovery.public_key),
                session_key=secrets.token_bytes(32),
                created_on=today,
            )
        )
        session.add(AuditHead(id=1, entry_id=0, entry_hash=GENESIS))
    return recovery


def write_recovery_key(path: Path, recovery: PrivateKey) -> None:
    """Write the recovery private key to a new file of mode 0600; never overwrite one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(keys.export_recovery_key(recovery) + "\n")
