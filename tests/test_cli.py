"""The speakup command, run as an operator would."""

import asyncio
import io
import stat
import sys

import pytest
from sqlalchemy import func, select

import cli
from cases.context import Context
from cases.models import Case, Staff
from cases.settings import Settings
from crypto.keys import import_recovery_key


@pytest.fixture
def environment(monkeypatch, database_url, tmp_path):
    """The environment variables an operator would set (cheap Argon2id for speed)."""
    for name, value in {
        "SPEAKUP_DATABASE_URL": database_url,
        "SPEAKUP_DATA_DIR": str(tmp_path / "data"),
        "SPEAKUP_ARGON2_OPSLIMIT": "1",
        "SPEAKUP_ARGON2_MEMLIMIT": "8192",
    }.items():
        monkeypatch.setenv(name, value)
    return tmp_path


def run(monkeypatch, *args: str, stdin: str = "") -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    cli.main(list(args))


async def staff_roles() -> dict[str, str]:
    ctx = Context(Settings.from_env())
    try:
        async with ctx.sessions() as session:
            return dict((await session.execute(select(Staff.email, Staff.role))).all())
    finally:
        await ctx.close()


def init(monkeypatch, key_file) -> None:
    run(
        monkeypatch,
        "init",
        "--compliance-officer",
        "cfo@example.test",
        "--audit-committee",
        "chair@example.test",
        "--recovery-key-file",
        str(key_file),
        "--password-stdin",
        stdin="first password ok\nsecond password ok\n",
    )


async def test_init_writes_the_recovery_key_once_with_mode_0600(monkeypatch, environment, capsys):
    key_file = environment / "offline" / "recovery.key"
    await asyncio.to_thread(init, monkeypatch, key_file)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    import_recovery_key(key_file.read_text())  # a valid key
    assert "Move it offline" in capsys.readouterr().out
    assert await staff_roles() == {"cfo@example.test": "compliance_officer", "chair@example.test": "audit_committee"}

    with pytest.raises(SystemExit, match="exists"):
        await asyncio.to_thread(init, monkeypatch, key_file)
    key_file.rename(environment / "moved.key")
    with pytest.raises(SystemExit, match="already initialised"):
        await asyncio.to_thread(init, monkeypatch, key_file)


async def test_user_add_reads_the_password_from_stdin(monkeypatch, environment):
    await asyncio.to_thread(init, monkeypatch, environment / "recovery.key")
    await asyncio.to_thread(
        run,
        monkeypatch,
        "user",
        "add",
        "--role",
        "investigator",
        "--email",
        "Inv@Example.test",
        "--password-stdin",
        stdin="investigator pass\n",
    )
    assert (await staff_roles())["inv@example.test"] == "investigator"
    with pytest.raises(SystemExit, match="at least 12"):
        await asyncio.to_thread(
            run, monkeypatch, "user", "add", "--role", "admin", "--email", "a@example.test", "--password-stdin", stdin="short\n"
        )


async def test_user_add_before_init_says_so(monkeypatch, environment):
    await asyncio.to_thread(cli.migrate, Settings.from_env())
    with pytest.raises(SystemExit, match="not been set up"):
        await asyncio.to_thread(
            run,
            monkeypatch,
            "user",
            "add",
            "--role",
            "admin",
            "--email",
            "a@example.test",
            "--password-stdin",
            stdin="long enough password\n",
        )


async def test_demo_files_reports_through_intake_and_prints_credentials(monkeypatch, environment, capsys):
    monkeypatch.chdir(environment)
    await asyncio.to_thread(run, monkeypatch, "demo", "--no-serve", "--reports", "12")
    out = capsys.readouterr().out
    assert "Demo data: 12 reports, 4 staff accounts." in out
    assert "compliance@demo.speakup.test" in out and "demo-compliance-officer" in out
    assert "http://127.0.0.1:8000/" in out
    ctx = Context(Settings.from_env())
    try:
        async with ctx.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(Case)) == 12
            assert await session.scalar(select(func.count()).select_from(Case).where(Case.routing == "audit_committee")) >= 1
    finally:
        await ctx.close()
    # A second run finds the demo in place and files nothing more.
    await asyncio.to_thread(run, monkeypatch, "demo", "--no-serve", "--reports", "12")
    assert "Demo data: 12 reports" in capsys.readouterr().out


def test_unknown_setting_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("SPEAKUP_DATABSE_URL", "typo")
    with pytest.raises(SystemExit, match="SPEAKUP_DATABSE_URL"):
        cli.main(["migrate"])


async def _file_and_read(key_file, email, password) -> str:
    """File a report, then read it back as ``email`` with ``password``."""
    from cases.accounts import unlock
    from cases.filing import file_report, parse_report
    from cases.models import Grant
    from crypto import boxes, keys

    ctx = Context(Settings.from_env())
    try:
        async with ctx.sessions() as session:
            staff = await session.scalar(select(Staff).where(Staff.email == email))
        private = await unlock(ctx, staff, password)
        if private is None:
            return "locked out"
        async with ctx.sessions() as session:
            if await session.scalar(select(Case.id)) is None:
                await session.rollback()  # one session at a time: SQLite transactions take the write lock
                await file_report(
                    session, ctx, parse_report({"category": "other", "summary": "Kept", "details": "d"}), [], ctx.today()
                )
        async with ctx.sessions() as session:
            case = await session.scalar(select(Case))
            grant = await session.scalar(select(Grant).where(Grant.case_id == case.id, Grant.staff_id == staff.id))
        return boxes.unseal_json(keys.open_grant(grant.sealed_key, private), case.report_box)["summary"]
    finally:
        await ctx.close()


async def test_recover_sets_a_new_password_and_keeps_every_case(monkeypatch, environment, capsys):
    key_file = environment / "recovery.key"
    await asyncio.to_thread(init, monkeypatch, key_file)
    assert await _file_and_read(key_file, "cfo@example.test", "first password ok") == "Kept"
    await asyncio.to_thread(
        run,
        monkeypatch,
        "recover",
        "--email",
        "cfo@example.test",
        "--recovery-key-file",
        str(key_file),
        "--password-stdin",
        stdin="a fresh password\n",
    )
    assert "1 case grant(s) renewed" in capsys.readouterr().out
    assert await _file_and_read(key_file, "cfo@example.test", "a fresh password") == "Kept"
    assert await _file_and_read(key_file, "cfo@example.test", "first password ok") == "locked out"


async def test_recover_refuses_another_installations_key(monkeypatch, environment):
    await asyncio.to_thread(init, monkeypatch, environment / "recovery.key")
    other = environment / "other.key"
    from crypto.keys import export_recovery_key, new_key_pair

    other.write_text(export_recovery_key(new_key_pair()))
    with pytest.raises(SystemExit, match="not this installation's recovery key"):
        await asyncio.to_thread(
            run,
            monkeypatch,
            "recover",
            "--email",
            "cfo@example.test",
            "--recovery-key-file",
            str(other),
            "--password-stdin",
            stdin="a fresh password\n",
        )


async def test_audit_verify_exits_non_zero_naming_the_bad_entry(monkeypatch, environment, capsys):
    from sqlalchemy import update

    from cases.models import AuditEntry

    await asyncio.to_thread(init, monkeypatch, environment / "recovery.key")
    await asyncio.to_thread(run, monkeypatch, "audit", "verify")
    assert "audit log intact: 2 entries" in capsys.readouterr().out
    ctx = Context(Settings.from_env())
    try:
        async with ctx.sessions() as session, session.begin():
            first = await session.scalar(select(func.min(AuditEntry.id)))
            await session.execute(update(AuditEntry).where(AuditEntry.id == first).values(detail="edited"))
    finally:
        await ctx.close()
    with pytest.raises(SystemExit, match=f"first bad entry: {first}"):
        await asyncio.to_thread(run, monkeypatch, "audit", "verify")


@pytest.mark.parametrize(
    ("argv", "environ", "expected"),
    [
        (["--port", "8123"], {}, "http://127.0.0.1:8123"),
        (["--host", "::1", "--port", "8080"], {}, "http://[::1]:8080"),
        (["--port", "8123"], {"SPEAKUP_BASE_URL": "https://speakup.example.test/"}, "https://speakup.example.test"),
    ],
)
def test_demo_mails_link_to_the_address_it_serves(monkeypatch, argv, environ, expected):
    """Nothing is seeded or served: the settings the demo would serve with are caught on the way."""
    import cases.demo

    served = {}

    async def seed(settings, reports):
        return "seeded"

    monkeypatch.delenv("SPEAKUP_BASE_URL", raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(cli, "migrate", lambda settings: None)
    monkeypatch.setattr(cases.demo, "seed", seed)
    monkeypatch.setattr(cli, "serve", lambda settings, host, port: served.update(settings=settings))
    cli.main(["demo", *argv])
    assert served["settings"].base_url == expected
