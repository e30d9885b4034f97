"""Whether this instance can serve: the database answers and its schema is the code's (for ``/readyz``)."""

import functools
import logging
from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from .context import Context

log = logging.getLogger("speakup")

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(database_url: str | None = None) -> Config:
    """The Alembic configuration (``[tool.alembic]`` in pyproject.toml), for ``database_url``."""
    config = Config(toml_file=str(ROOT / "pyproject.toml"))
    if database_url is not None:
        config.attributes["database_url"] = database_url
    return config


@functools.cache
def head_revisions() -> frozenset[str]:
    """The migrations' head(s): read from the files once, they do not change while the code runs."""
    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


def _current_revisions(connection) -> frozenset[str]:
    # Empty when the version table is missing (a database never migrated).
    return frozenset(MigrationContext.configure(connection).get_current_heads())


async def readiness(ctx: Context, *, schema: bool = True) -> tuple[bool, str]:
    """``(True, "")``, or ``(False, why)`` without detail an attacker could use; ``schema=False``:
    only whether the database answers."""
    try:
        async with ctx.engine.connect() as connection:
            current = await connection.run_sync(_current_revisions)
    except Exception as error:  # whatever stops the database answering, this instance cannot serve
        log.warning("readiness: database unreachable (%s)", type(error).__name__)
        return False, "database unreachable"
    if schema and current != head_revisions():
        return False, "schema not at head"
    return True, ""
