"""The speakup command, run as an operator would."""

import asyncio
import io
import re
import stat
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

import cli
from cases.context import Context
from cases.models import Case, Installation, Staff
from cases.settings import Settings
from crypto.keys import RECOVERY_KEY_PREFIX, import_recovery_key


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


def recover(monkeypatch, key_file) -> None:
    """`speakup recover` for the Compliance Officer, with a fresh password from standard input."""
    run(
        monkeypatch,
        "recover",
        "--email",
        "cfo@example.test",
        "--recovery-key-file",
        str(key_file),
        "--password-stdin",
        stdin="a fresh password\n",
    )


async def staff_roles() -> dict[str, str]:
    ctx = Context(Settings.from_env())
    try:
        async with ctx.sessions() as session:
            return dict((await session.execute(select(Staff.email, Staff.role))).all())
    finally:
        await ctx.close()


@pytest.fixture
def offline(tmp_path_factory):
    """A folder away from the data folder and the SQLite database (a removable drive, say)."""
    return tmp_path_factory.mktemp("offline")


def init(monkeypatch, key_file) -> None:
    """``speakup init``; the recovery key to ``key_file``, or (None) printed."""
    run(
        monkeypatch,
        "init",
        "--compliance-officer",
        "cfo@example.test",
        "--audit-committee",
        "chair@example.test",
        *(["--recovery-key-file", str(key_file)] if key_file is not None else []),
        "--password-stdin",
        stdin="first password ok\nsecond password ok\n",
    )


async def recovery_public_key() -> bytes:
    ctx = Context(Settings.from_env())
    try:
        async with ctx.sessions() as session:
            return await session.scalar(select(Installation.recovery_public_key))
    finally:
        await ctx.close()


async def test_init_writes_the_recovery_key_once_with_mode_0600(monkeypatch, environment, offline, capsys):
    key_file = offline / "keys" / "recovery.key"
    await asyncio.to_thread(init, monkeypatch, key_file)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = import_recovery_key(key_file.read_text())  # a valid key: this installation's
    assert bytes(key.public_key) == await recovery_public_key()
    out = capsys.readouterr().out
    assert "Move the recovery private key offline" in out and key_file.read_text().strip() not in out
    assert await staff_roles() == {"cfo@example.test": "compliance_officer", "chair@example.test": "audit_committee"}

    with pytest.raises(SystemExit, match="exists"):
        await asyncio.to_thread(init, monkeypatch, key_file)
    key_file.rename(offline / "moved.key")
    with pytest.raises(SystemExit, match="already initialised"):
        await asyncio.to_thread(init, monkeypatch, key_file)


async def test_init_without_a_key_file_prints_the_key_once_and_writes_it_nowhere(monkeypatch, environment, offline, capsys):
    """No default file in the data folder, where every backup of the data would take the key along."""
    await asyncio.to_thread(init, monkeypatch, None)
    out = capsys.readouterr().out
    [line] = [line.strip() for line in out.splitlines() if line.strip().startswith(RECOVERY_KEY_PREFIX)]
    assert bytes(import_recovery_key(line).public_key) == await recovery_public_key()
    assert "WARNING: copy it offline now" in out
    written = [path for path in environment.rglob("*") if path.is_file() and line.encode() in path.read_bytes()]
    assert written == []  # not in the data folder, not beside the database, nowhere
    assert not (environment / "data" / "recovery-key.txt").exists()
    assert await staff_roles() == {"cfo@example.test": "compliance_officer", "chair@example.test": "audit_committee"}
    # The printed line, saved to a file, is what `speakup recover` reads.
    saved = offline / "printed.key"
    saved.write_text(line + "\n")
    await asyncio.to_thread(recover, monkeypatch, saved)
    assert "new password set" in capsys.readouterr().out


async def test_init_refuses_to_write_the_recovery_key_among_the_data(monkeypatch, environment, database_url, offline):
    data = environment / "data"
    # In the data folder, below it, and the same spelled round about.
    inside = [data / "recovery-key.txt", data / "keys" / "recovery.key", offline / ".." / data.parent.name / "data" / "x"]
    if database_url.startswith("sqlite"):
        inside.append(environment / "recovery.key")  # beside the SQLite database
    for key_file in inside:
        with pytest.raises(SystemExit, match="inside .* write the recovery key somewhere else"):
            await asyncio.to_thread(init, monkeypatch, key_file)
        assert not key_file.exists()
    data.mkdir(parents=True, exist_ok=True)
    monkeypatch.chdir(data)  # a relative path, from inside the data folder
    with pytest.raises(SystemExit, match="inside"):
        await asyncio.to_thread(init, monkeypatch, Path("recovery.key"))
    assert list(data.rglob("*")) == []
    # Nothing was initialised: a key file elsewhere still works.
    await asyncio.to_thread(init, monkeypatch, offline / "recovery.key")
    assert (offline / "recovery.key").exists()


async def test_user_add_reads_the_password_from_stdin(monkeypatch, environment, offline):
    await asyncio.to_thread(init, monkeypatch, offline / "recovery.key")
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


async def test_recover_sets_a_new_password_and_keeps_every_case(monkeypatch, environment, offline, capsys):
    key_file = offline / "recovery.key"
    await asyncio.to_thread(init, monkeypatch, key_file)
    assert await _file_and_read(key_file, "cfo@example.test", "first password ok") == "Kept"
    await asyncio.to_thread(recover, monkeypatch, key_file)
    assert "1 case grant(s) renewed" in capsys.readouterr().out
    assert await _file_and_read(key_file, "cfo@example.test", "a fresh password") == "Kept"
    assert await _file_and_read(key_file, "cfo@example.test", "first password ok") == "locked out"


async def test_recover_refuses_another_installations_key(monkeypatch, environment, offline):
    await asyncio.to_thread(init, monkeypatch, offline / "recovery.key")
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

    await asyncio.to_thread(init, monkeypatch, None)
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


def verified(capsys) -> tuple[int, str, str]:
    """What the last `speakup audit verify` printed: the entries, the head, and all of it."""
    out = capsys.readouterr().out
    match = re.search(r"audit log intact: (\d+) entries; head ([0-9a-f]{64})", out)
    assert match, out
    return int(match.group(1)), match.group(2), out


async def test_audit_verify_expect_head_catches_a_log_cut_back_and_re_pointed(monkeypatch, environment, capsys):
    """Deleting the newest entries and pointing the head at the new last one leaves a chain that
    chains; only a head kept outside the database shows what is missing."""
    import subprocess

    from sqlalchemy import delete, update

    from cases.models import AuditEntry, AuditHead

    await asyncio.to_thread(init, monkeypatch, None)
    await asyncio.to_thread(run, monkeypatch, "audit", "verify")
    entries, kept, _ = verified(capsys)  # a head noted elsewhere (or mailed in a Committee digest)
    for email in ("one@example.test", "two@example.test", "three@example.test"):
        await asyncio.to_thread(
            run,
            monkeypatch,
            "user",
            "add",
            "--role",
            "admin",
            "--email",
            email,
            "--password-stdin",
            stdin="long enough password\n",
        )
    capsys.readouterr()
    await asyncio.to_thread(run, monkeypatch, "audit", "verify", "--expect-head", kept)
    now, latest, out = verified(capsys)
    assert now > entries and f"The expected head is in the chain; entries added since: {now - entries}." in out
    await asyncio.to_thread(run, monkeypatch, "audit", "verify", "--expect-head", latest.upper())
    assert "The head is the expected head" in verified(capsys)[2]

    # Someone with the database removes the newest entries and re-points the head.
    ctx = Context(Settings.from_env())
    try:
        async with ctx.sessions() as session, session.begin():
            last = await session.scalar(select(AuditEntry).where(AuditEntry.id < now).order_by(AuditEntry.id.desc()).limit(1))
            await session.execute(delete(AuditEntry).where(AuditEntry.id > last.id))
            await session.execute(update(AuditHead).values(entry_id=last.id, entry_hash=last.entry_hash))
    finally:
        await ctx.close()
    await asyncio.to_thread(run, monkeypatch, "audit", "verify")
    assert verified(capsys)[0] < now  # the chain alone still passes
    await asyncio.to_thread(run, monkeypatch, "audit", "verify", "--expect-head", kept)  # cut after the kept head
    verified(capsys)
    # The real command, as an operator runs it against the head they kept: exit 1, saying so.
    checked = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", "import cli; cli.main()", "audit", "verify", "--expect-head", latest],
        cwd=Path(cli.__file__).parent,
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert f"the expected head {latest} is not in the chain" in checked.stderr
    assert "audit log BROKEN" in checked.stderr and "intact" not in checked.stdout

    with pytest.raises(SystemExit) as bad:  # not a head at all: a usage error
        await asyncio.to_thread(run, monkeypatch, "audit", "verify", "--expect-head", "not-a-hash")
    assert bad.value.code == 2


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
