"""Alembic environment: runs migrations over the same async engine the app uses."""

import asyncio

from alembic import context
from sqlalchemy import text

from cases.db import MIGRATION_LOCK_KEY, create_engine
from cases.models import Base
from cases.settings import Settings

target_metadata = Base.metadata


def _url() -> str:
    # `speakup` passes its URL in; plain `alembic` reads SPEAKUP_DATABASE_URL.
    return context.config.attributes.get("database_url") or Settings.from_env().database_url


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_engine(_url(), migrating=True)
    try:
        async with engine.connect() as connection:
            # Two processes starting at once both migrate. Each runs every migration in one
            # transaction of its own, begun here under a lock, before Alembic reads the version
            # table: the second waits until the first commits, then finds nothing to do. (Left to
            # Alembic, SQLite commits after each migration, and two runners interleave.)
            # SQLite: the transaction begins IMMEDIATE (cases/db.py), which takes the one write lock.
            await connection.begin()
            if connection.dialect.name == "postgresql":
                # The lock goes with the transaction, whatever happens.
                await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_async())
