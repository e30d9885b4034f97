"""Two hosts starting at once both run `speakup migrate` on one fresh database: both succeed, and the schema
is built once."""

import asyncio
import os
import sqlite3
import sys

import asyncpg
from sqlalchemy.engine import make_url

from cases.context import Context
from cases.db import MIGRATION_LOCK_KEY
from cases.health import readiness
from cases.settings import Settings
from tests.conftest import POSTGRES_ADMIN_URL, ROOT


async def start_migrate(database_url: str) -> asyncio.subprocess.Process:
    """`speakup migrate` in a process of its own, as a host runs it at start."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import cli; cli.main(['migrate'])",
        cwd=ROOT,
        env={**os.environ, "SPEAKUP_DATABASE_URL": database_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def finished(process: asyncio.subprocess.Process) -> tuple[int | None, str]:
    output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode, output.decode(errors="replace")


async def assert_at_head(database_url: str, tmp_path) -> None:
    ctx = Context(Settings(database_url=database_url, data_dir=tmp_path))
    try:
        assert await readiness(ctx) == (True, "")
    finally:
        await ctx.close()


async def test_two_migrations_at_once_both_succeed(database_url, tmp_path):
    """The test holds the lock the migrations take (PostgreSQL: the advisory lock; SQLite: the
    write lock) until both are queued behind it, so they really start together; then the first
    builds the schema and the second finds it done. Without the advisory lock, two at once
    failed on PostgreSQL every time ("duplicate key"); on SQLite, where Alembic commits after each
    migration, now and then ("duplicate column": the other runner had slipped in between)."""
    if database_url.startswith("postgresql"):
        database = make_url(database_url).database
        admin = await asyncpg.connect(make_url(POSTGRES_ADMIN_URL).set(database=database).render_as_string(hide_password=False))
        try:
            await admin.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
            hosts = [await start_migrate(database_url) for _ in range(2)]
            waiting = 0
            for _ in range(600):
                waiting = await admin.fetchval(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                )
                if waiting == 2:
                    break
                await asyncio.sleep(0.05)
            assert waiting == 2, "the migrations did not wait for the lock"
            await admin.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
            results = [await finished(host) for host in hosts]
        finally:
            await admin.close()
    else:
        holder = sqlite3.connect(make_url(database_url).database, isolation_level=None)
        try:
            holder.execute("PRAGMA journal_mode=WAL")  # as the app's connections set it
            holder.execute("BEGIN IMMEDIATE")
            hosts = [await start_migrate(database_url) for _ in range(2)]
            await asyncio.sleep(3)  # time to start and reach the lock (the busy timeout is 30 s)
            assert [host.returncode for host in hosts] == [None, None], "the migrations did not wait for the lock"
            holder.execute("COMMIT")
            results = [await finished(host) for host in hosts]
        finally:
            holder.close()
    for code, output in results:
        assert code == 0, output
    await assert_at_head(database_url, tmp_path)
