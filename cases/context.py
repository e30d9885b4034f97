"""What domain functions need besides their session: settings, sessions, Argon2id, installation keys.

One ``Context`` is made per process (by the app's lifespan or a CLI command)
and closed with it.
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from nacl.public import PublicKey
from sqlalchemy import select

from .db import create_engine, session_factory
from .errors import NotInitialised
from .kdf_pool import KdfPool
from .models import Installation
from .settings import Settings


@dataclass(frozen=True)
class InstallationKeys:
    receipt_salt: bytes
    recovery_public_key: PublicKey
    # Seals the reporter's follow-up cookie (cases/reporter_session.py); never in a repr.
    session_key: bytes = field(repr=False)


class Context:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = create_engine(settings.database_url)
        self.sessions = session_factory(self.engine)
        self.kdf = KdfPool(settings.argon2, settings.argon2_concurrency)
        # The clock staff-side steps and the limits read; tests give the context a clock they can move.
        self.clock = lambda: datetime.now(UTC)
        self._installation: InstallationKeys | None = None

    def now(self) -> datetime:
        """Now, from the context's clock: the one clock of the domain (tests move it)."""
        return self.clock()

    def today(self) -> date:
        """Today in UTC: the only clock reporter-side records use."""
        return self.clock().astimezone(UTC).date()

    async def installation(self) -> InstallationKeys:
        """The installation's salt, recovery key and session key, read once (they never change)."""
        if self._installation is None:
            async with self.sessions() as session:
                row = await session.scalar(select(Installation))
            if row is None:
                raise NotInitialised()
            self._installation = InstallationKeys(row.receipt_salt, PublicKey(row.recovery_public_key), row.session_key)
        return self._installation

    async def close(self) -> None:
        await self.engine.dispose()
