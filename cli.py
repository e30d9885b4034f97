"""The ``speakup`` command: init, users, migrations, serving and the demo."""

import argparse
import asyncio
import getpass
import os
import sys
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy.engine import make_url

from cases import audit
from cases.accounts import create_staff
from cases.context import Context
from cases.errors import SpeakupError
from cases.health import alembic_config
from cases.installation import AlreadyInitialised, initialise, write_recovery_key
from cases.outbox import send_due
from cases.recovery import recover_staff, regrant_unheld
from cases.retaliation import deliver_check_ins, import_adverse_actions, parse_adverse_actions, read_csv
from cases.settings import Settings
from cases.vocabulary import ROLES
from cases.worker import run_forever, run_jobs
from crypto.keys import export_recovery_key, import_recovery_key


def migrate(settings: Settings) -> None:
    """Bring the database schema up to date (Alembic ``upgrade head``; on PostgreSQL one host at a time)."""
    command.upgrade(alembic_config(settings.database_url), "head")


def _passwords(count: int, from_stdin: bool, labels: list[str]) -> list[str]:
    if from_stdin:
        lines = [sys.stdin.readline().rstrip("\n") for _ in range(count)]
        if any(not line for line in lines):
            raise SystemExit(f"expected {count} password line(s) on standard input")
        return lines
    passwords = []
    for label in labels:
        first = getpass.getpass(f"Password for {label}: ")
        if getpass.getpass("Again: ") != first:
            raise SystemExit("the passwords differ")
        passwords.append(first)
    return passwords


async def _add_staff(ctx: Context, email: str, role: str, password: str) -> None:
    async with ctx.sessions() as session:
        await create_staff(session, ctx, email=email, role=role, password=password)


async def _init(settings: Settings, key_file: Path | None, accounts: list[tuple[str, str, str]]) -> None:
    """Initialise; hand over the recovery key (to ``key_file``, or printed); add the (email, role, password) accounts."""
    ctx = Context(settings)
    try:
        async with ctx.sessions() as session:
            recovery = await initialise(session, ctx.today())
        # Hand the recovery key over before anything else can fail: it is shown nowhere else.
        if key_file is not None:
            write_recovery_key(key_file, recovery)
            print(f"The recovery private key is in {key_file} (mode 0600).")
        else:
            print(
                "\nThe recovery private key, shown this once and stored nowhere else:\n\n"
                f"    {export_recovery_key(recovery)}\n\n"
                "WARNING: copy it offline now, then clear this terminal's scrollback and any log of this output.\n"
                "`speakup recover --recovery-key-file FILE` reads it from a file holding that line.\n",
                flush=True,
            )
        for email, role, password in accounts:
            await _add_staff(ctx, email, role, password)
    finally:
        await ctx.close()


def _data_folders(settings: Settings) -> list[Path]:
    """The folders a backup of the installation's data takes along: the data folder, and the SQLite database's."""
    folders = [settings.data_dir]
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        folders.append(Path(url.database).parent)
    return [folder.expanduser().resolve() for folder in folders]


def _recovery_key_file(settings: Settings, given: Path | None) -> Path | None:
    """Where init may write the recovery key: never into the data, whose backups would take it along."""
    if given is None:
        return None
    path = given.expanduser().resolve()
    for folder in _data_folders(settings):
        if path == folder or folder in path.parents:
            raise SystemExit(
                f"{given} is inside {folder}, where the data and its backups are: write the recovery key "
                "somewhere else (a removable drive), or leave out --recovery-key-file to have it printed once"
            )
    if path.exists():
        raise SystemExit(f"{given} exists; move it away first (it may be your only recovery key)")
    return path


def cmd_init(settings: Settings, args: argparse.Namespace) -> None:
    key_file = _recovery_key_file(settings, args.recovery_key_file)
    passwords = _passwords(2, args.password_stdin, [args.compliance_officer, args.audit_committee])
    accounts = [
        (args.compliance_officer, "compliance_officer", passwords[0]),
        (args.audit_committee, "audit_committee", passwords[1]),
    ]
    migrate(settings)
    asyncio.run(_init(settings, key_file, accounts))
    print("Initialised. Move the recovery private key offline now (a safe, a password manager of the Audit")
    print("Committee): it is needed to recover cases when a staff member forgets a password or leaves, and it")
    print("is stored nowhere else.")


def cmd_user_add(settings: Settings, args: argparse.Namespace) -> None:
    [password] = _passwords(1, args.password_stdin, [args.email])

    async def run() -> None:
        ctx = Context(settings)
        try:
            await ctx.installation()
            await _add_staff(ctx, args.email, args.role, password)
        finally:
            await ctx.close()

    asyncio.run(run())
    print(f"Added {args.email} as {args.role}.")


def _head_hash(text: str) -> bytes:
    """An audit head as ``speakup audit verify`` prints it: 64 hex digits."""
    try:
        value = bytes.fromhex(text.strip())
    except ValueError:
        value = b""
    if len(value) != 32:
        raise argparse.ArgumentTypeError("expected the 64 hex digits of an audit head")
    return value


def cmd_audit_verify(settings: Settings, args: argparse.Namespace) -> None:
    async def run() -> audit.Verification:
        ctx = Context(settings)
        try:
            async with ctx.sessions() as session:
                return await audit.verify(session, expect_head=args.expect_head)
        finally:
            await ctx.close()

    result = asyncio.run(run())
    if not result.ok:
        where = f" (first bad entry: {result.first_bad})" if result.first_bad else ""
        raise SystemExit(f"audit log BROKEN after {result.entries} entries: {result.problem}{where}")
    print(f"audit log intact: {result.entries} entries; head {result.head.hex()}")
    if result.added_since is not None:
        if result.added_since:
            print(f"The expected head is in the chain; entries added since: {result.added_since}.")
        else:
            print("The head is the expected head: no entry was added since.")
    print("Keep the head somewhere else (a note to the Audit Committee), and check a later log against it")
    print("with --expect-head: a log cut back before it fails.")


def cmd_recover(settings: Settings, args: argparse.Namespace) -> None:
    try:
        recovery_key = import_recovery_key(args.recovery_key_file.read_text())
    except (OSError, ValueError) as error:
        raise SystemExit(f"cannot read the recovery key: {error}") from None
    [password] = _passwords(1, args.password_stdin, [f"{args.email} (new)"])

    async def run() -> int:
        ctx = Context(settings)
        try:
            async with ctx.sessions() as session:
                return await recover_staff(session, ctx, args.email, recovery_key, password)
        finally:
            await ctx.close()

    renewed = asyncio.run(run())
    print(f"{args.email}: new password set, {renewed} case grant(s) renewed; a new second factor is set up at next login.")


def cmd_regrant(settings: Settings, args: argparse.Namespace) -> None:
    try:
        recovery_key = import_recovery_key(args.recovery_key_file.read_text())
    except (OSError, ValueError) as error:
        raise SystemExit(f"cannot read the recovery key: {error}") from None

    async def run() -> list[str]:
        ctx = Context(settings)
        try:
            async with ctx.sessions() as session:
                return await regrant_unheld(session, ctx, recovery_key)
        finally:
            await ctx.close()

    regranted = asyncio.run(run())
    print(
        f"{len(regranted)} case(s) no active staff member could read were granted again"
        + (": " + ", ".join(regranted) if regranted else ".")
    )


def cmd_hr_import(settings: Settings, args: argparse.Namespace) -> None:
    try:
        text = args.file.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise SystemExit(f"cannot read {args.file}: {error}") from None
    actions = parse_adverse_actions(read_csv(text))

    async def run() -> int:
        ctx = Context(settings)
        try:
            async with ctx.sessions() as session:
                return await import_adverse_actions(session, ctx, actions, ctx.today())
        finally:
            await ctx.close()

    # The count of rows only: whether any matched is for the Compliance Officer and the Committee to see.
    print(f"{asyncio.run(run())} adverse action(s) checked against protected persons.")


def cmd_check_ins(settings: Settings, args: argparse.Namespace) -> None:
    async def run() -> int:
        ctx = Context(settings)
        try:
            async with ctx.sessions() as session:
                return await deliver_check_ins(session, ctx, ctx.today())
        finally:
            await ctx.close()

    print(f"{asyncio.run(run())} post-closure check-in(s) delivered.")


def cmd_worker(settings: Settings, args: argparse.Namespace) -> None:
    async def run() -> None:
        ctx = Context(settings)
        try:
            if args.once:
                await run_jobs(ctx)
                print(f"{await send_due(ctx, ctx.now())} mail(s) sent.")
            else:
                await run_forever(ctx)
        finally:
            await ctx.close()

    asyncio.run(run())


def server_options(settings: Settings, host: str, port: int, workers: int = 1) -> dict[str, Any]:
    """The arguments of ``uvicorn.run`` (and ``uvicorn.Config``) for ``speakup serve``."""
    from asgi import create_app

    return dict(
        # Several worker processes each build the app from the environment.
        app="asgi:app" if workers > 1 else create_app(settings),
        workers=workers,
        host=host,
        port=port,
        # No access log: it would hold reporters' addresses and the times they came.
        access_log=False,
        # X-Forwarded-For and the like never become the client address, in uvicorn or the app.
        proxy_headers=False,
        # No WebSocket: nothing here speaks it, and uvicorn logs each upgrade it refuses with the
        # client's address; without a WebSocket implementation an upgrade is a plain HTTP request.
        ws="none",
        # Neither the server's name and version nor its clock (the app's responses carry no date either).
        server_header=False,
        date_header=False,
    )


def serve(settings: Settings, host: str, port: int, workers: int = 1) -> None:
    import uvicorn

    uvicorn.run(**server_options(settings, host, port, workers))


def cmd_serve(settings: Settings, args: argparse.Namespace) -> None:
    serve(settings, args.host, args.port, args.workers)


def cmd_demo(settings: Settings, args: argparse.Namespace) -> None:
    from cases.demo import seed

    # Plain HTTP on loopback, so cookies cannot be Secure; SPEAKUP_DATABASE_URL,
    # when set, chooses the database (PostgreSQL, say) instead of ./var/demo.
    overrides: dict = {"data_dir": Path("var/demo"), "secure_cookies": False}
    if "SPEAKUP_HR_MATCH_KEY" not in os.environ:  # a fixed key, for the demo only
        overrides["hr_match_key"] = b"speakup-demo-hr-match-key-not-secret"
    if "SPEAKUP_DATABASE_URL" not in os.environ:
        overrides["database_url"] = "sqlite+aiosqlite:///var/demo/speakup.db"
    # Mails link to where the demo serves, unless SPEAKUP_BASE_URL says otherwise.
    host = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{host}:{args.port}"
    if "SPEAKUP_BASE_URL" not in os.environ:
        overrides["base_url"] = url
    settings = Settings.from_env(**overrides)
    migrate(settings)
    summary = asyncio.run(seed(settings, args.reports))
    print(summary)
    print(f"\nSpeakup demo: {url}/  (staff: {url}/staff/; a first login sets up the authenticator app)")
    if not args.no_serve:
        serve(settings, args.host, args.port)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="speakup", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    init = commands.add_parser("init", help="create the schema, the recovery key and the first two accounts")
    init.add_argument("--compliance-officer", required=True, metavar="EMAIL")
    init.add_argument("--audit-committee", required=True, metavar="EMAIL", help="the first Audit Committee member")
    init.add_argument(
        "--recovery-key-file",
        type=Path,
        metavar="PATH",
        help="write the recovery private key to this new file (mode 0600), outside the data folder; "
        "without it the key is printed once",
    )
    init.add_argument("--password-stdin", action="store_true", help="read the two passwords, one per line, from standard input")
    init.set_defaults(handler=cmd_init)

    user = commands.add_parser("user", help="staff accounts").add_subparsers(dest="action", required=True)
    add = user.add_parser("add", help="add a staff account")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--email", required=True)
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.set_defaults(handler=cmd_user_add)

    recover = commands.add_parser("recover", help="give a staff member who forgot their password a new one")
    recover.add_argument("--email", required=True)
    recover.add_argument("--recovery-key-file", type=Path, required=True)
    recover.add_argument("--password-stdin", action="store_true", help="read the new password from standard input")
    recover.set_defaults(handler=cmd_recover)

    regrant = commands.add_parser(
        "regrant", help="give the cases that no active staff member can read to those their routing names"
    )
    regrant.add_argument("--recovery-key-file", type=Path, required=True)
    regrant.set_defaults(handler=cmd_regrant)

    audit_parser = commands.add_parser("audit", help="the audit log").add_subparsers(dest="action", required=True)
    verify = audit_parser.add_parser("verify", help="check the hash chain; exit 1 naming the first bad entry")
    verify.add_argument(
        "--expect-head",
        type=_head_hash,
        metavar="HASH",
        help="a head kept elsewhere (printed here before, or in the Audit Committee's digest): "
        "exit 1 unless it is the head or an earlier entry of the chain",
    )
    verify.set_defaults(handler=cmd_audit_verify)

    hr = commands.add_parser("hr", help="HR adverse actions").add_subparsers(dest="action", required=True)
    hr_import = hr.add_parser("import", help="check a CSV of employee_id,action,date against protected persons")
    hr_import.add_argument("file", type=Path)
    hr_import.set_defaults(handler=cmd_hr_import)

    commands.add_parser("check-ins", help="deliver due post-closure check-ins (run daily)").set_defaults(handler=cmd_check_ins)

    worker = commands.add_parser("worker", help="send mail and run the daily jobs (when not inside the web process)")
    worker.add_argument("--once", action="store_true", help="one round, then stop (for cron)")
    worker.set_defaults(handler=cmd_worker)

    commands.add_parser("migrate", help="upgrade the database schema").set_defaults(
        handler=lambda settings, args: migrate(settings)
    )

    for name, handler, text in [
        ("serve", cmd_serve, "run the web server"),
        ("demo", cmd_demo, "set up demo data (once) and run the web server on it"),
    ]:
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--host", default="127.0.0.1")
        sub.add_argument("--port", type=int, default=8000)
        sub.set_defaults(handler=handler)
        if name == "serve":
            sub.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
        if name == "demo":
            sub.add_argument("--reports", type=int, default=50, help="demo reports to file (default 50)")
            sub.add_argument("--no-serve", action="store_true", help="set up the demo data and stop")

    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except ValueError as error:
        raise SystemExit(f"speakup: bad setting: {error}") from None
    try:
        args.handler(settings, args)
    except (SpeakupError, AlreadyInitialised) as error:
        details = "; ".join(f"{k}: {v}" for k, v in getattr(error, "fields", {}).items())
        raise SystemExit(f"speakup: {error}{' (' + details + ')' if details else ''}") from None


if __name__ == "__main__":
    main()
