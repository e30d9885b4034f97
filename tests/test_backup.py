"""A backup taken while the system runs, restored into a new database, works: the reporter's
receipt opens the report, staff log in and read it, and the audit chain verifies. The
commands are the README's (*Backup and restore*)."""

import re
import sqlite3
import subprocess
from dataclasses import replace

import httpx
from sqlalchemy.engine import make_url

from cases import audit
from cases.context import Context
from tests.conftest import Reporter, StaffBrowser, new_app


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def test_a_restored_backup_opens_receipts_logins_and_verifies(request, app, client, installed, settings, clock, tmp_path):
    reporter = Reporter(client)
    receipt = await reporter.file({"summary": "Backed up and restored"})
    officer = StaffBrowser(app, clock, installed.compliance_officer.email)  # enrols before the backup
    assert (await officer.login()).status_code == 303
    await officer.aclose()

    if settings.database_url.startswith("sqlite"):
        # sqlite3 speakup.db ".backup backup.db": the online backup API, consistent while others write.
        source = make_url(settings.database_url).database
        restored_path = tmp_path / "restored.db"
        with sqlite3.connect(source) as live, sqlite3.connect(restored_path) as copy:
            live.backup(copy)
        restored_url = f"sqlite+aiosqlite:///{restored_path}"
    else:
        # pg_dump -Fc, then pg_restore into a new, empty database.
        dump = tmp_path / "speakup.dump"
        subprocess.run(["pg_dump", "-Fc", "--no-owner", "-f", str(dump), _libpq(settings.database_url)], check=True)
        databases = request.getfixturevalue("postgres_databases")
        name = await databases.database("template0")
        restored_url = databases.url(name)
        subprocess.run(["pg_restore", "--no-owner", "-d", _libpq(restored_url), str(dump)], check=True, capture_output=True)
        request.addfinalizer(lambda: databases.drop_later(name))

    restored = new_app(replace(settings, database_url=restored_url))
    restored.state.ctx.clock = clock
    async with restored.router.lifespan_context(restored):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=restored), base_url="https://speakup.test") as other:
            page = await Reporter(other).open(receipt)
            assert page.status_code == 200 and "Backed up and restored" in page.text
        officer = StaffBrowser(restored, clock, installed.compliance_officer.email)
        assert (await officer.login()).status_code == 303
        listing = (await officer.get("/staff/")).text
        [reference] = set(re.findall(r"/staff/cases/(\d{4}-[0-9A-Z]{4}-[0-9A-Z]{4})", listing))
        assert "Backed up and restored" in (await officer.get(f"/staff/cases/{reference}")).text
        await officer.aclose()
        ctx: Context = restored.state.ctx
        async with ctx.sessions() as session:
            assert (await audit.verify(session)).ok
