"""Alembic environment: runs migrations over the same async engine the app uses."""

import asyncio

from alembic import context

from cases.db import create_engine
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
    engine = create_engine(_url())
    try:
        async with engine.connect() as connection:
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
