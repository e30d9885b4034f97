"""Engine and sessions for SQLite (the embedded default) and PostgreSQL."""

from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

# PostgreSQL's limits, in seconds: a partitioned, stalled or restarting server becomes an error
# (a 503 with Retry-After) within seconds instead of a request hanging on TCP for minutes. Every
# statement here takes milliseconds (docs/performance.md), so these only cut off the broken.
CONNECT_TIMEOUT = 5  # open a connection, startup included
POOL_TIMEOUT = 5  # wait for a pooled connection when all are in use
# The server cancels a statement (waits for a row lock included) after this long: a clean error,
# and the connection stays usable. The client gives up a second later, when no answer comes at all.
STATEMENT_TIMEOUT = 4
COMMAND_TIMEOUT = STATEMENT_TIMEOUT + 1
# pg_advisory_xact_lock key that serialises schema migrations (migrations/env.py): two hosts
# running `speakup migrate` at once, the second waits, then finds the schema at head.
MIGRATION_LOCK_KEY = 0x5350_4B55_504D_4947  # "SPKUPMIG"


def create_engine(database_url: str, *, migrating: bool = False) -> AsyncEngine:
    """The engine for ``database_url``; ``migrating`` lifts the statement limits (a migration
    may rewrite a large table, or wait for another host's migration to finish)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        connect_args: dict = {"timeout": CONNECT_TIMEOUT} if url.get_driver_name() == "asyncpg" else {}
        if connect_args and not migrating:
            connect_args["command_timeout"] = COMMAND_TIMEOUT
            connect_args["server_settings"] = {"statement_timeout": str(STATEMENT_TIMEOUT * 1000)}  # milliseconds
        return create_async_engine(
            url, pool_pre_ping=True, pool_timeout=POOL_TIMEOUT, connect_args=connect_args, hide_parameters=True
        )

    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    # hide_parameters: an error message must never carry row values into a log.
    engine = create_async_engine(url, connect_args={"timeout": 30}, hide_parameters=True)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy, not the driver, say when transactions begin (below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")  # a shown receipt survives power loss
        cursor.execute("PRAGMA foreign_keys=ON")
        # Deleted case content is overwritten, not left in free pages.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection) -> None:
        # IMMEDIATE takes the write lock up front. A deferred transaction that
        # reads and then writes can fail at once with "database is locked"
        # when two of them race; an immediate one waits its turn instead.
        # The price: code must not hold one session's transaction open while
        # it opens another (they would wait on each other), and must keep
        # transactions short.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)
