"""Alembic migrations build exactly the models' schema, on SQLite and PostgreSQL."""

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from cases.db import create_engine
from cases.models import Base
from cli import migrate


async def test_upgrade_head_matches_the_models(settings):
    await asyncio.to_thread(migrate, settings)  # Alembic runs its own event loop
    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as connection:

            def diff(sync_connection):
                context = MigrationContext.configure(sync_connection, opts={"render_as_batch": True})
                return compare_metadata(context, Base.metadata)

            differences = await connection.run_sync(diff)
            tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
    finally:
        await engine.dispose()
    assert differences == []
    assert {t.name for t in Base.metadata.sorted_tables} <= tables


async def test_upgrade_twice_is_harmless(settings):
    await asyncio.to_thread(migrate, settings)
    await asyncio.to_thread(migrate, settings)
