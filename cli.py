"""The ``speakup`` command: init, users, migrations, serving and the demo."""

import argparse
import asyncio
import getpass
import os
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config

from cases import audit
from cases.accounts import create_staff
from cases.context import Context
from cases.errors import SpeakupError
from cases.installation import AlreadyInitialised, initialise, write_recovery_key
from cases.outbox import send_due
from cases.recovery import recover_staff
from cases.retaliation import deliver_check_ins, import_adverse_actions, parse_adverse_actions, read_csv
from cases.settings import Settings
from cases.vocabulary import ROLES
from cases.worker import run_forever, run_jobs
from crypto.keys import import_recovery_key

ROOT = Path(__file__).resolve().parent


def migrate(settings: Settings) -> None:
    """Bring the database schema up to date (Alembic ``upgrade head``)."""
    config = Config(toml_file=str(ROOT / "pyproject.toml"))
    config.attributes["database_url"] = settings.database_url
    command.upgrade(config, "head")


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


async def _init(settings: Settings, args: argparse.Namespace, passwords: list[str]) -> None:
    ctx = Context(settings)
    try:
        async with ctx.sessions() as session:
            recovery = await initialise(session, ctx.today())
        # Write the recovery key before anything else can fail: it is shown nowhere else.
        write_recovery_key(args.recovery_key_file, recovery)
        await _add_staff(ctx, args.compliance_officer, "compliance_officer", passwords[0])
        await _add_staff(ctx, args.audit_committee, "audit_committee", passwords[1])
    finally:
        await ctx.close()


def cmd_init(settings: Settings, args: argparse.Namespace) -> None:
    args.recovery_key_file = args.recovery_key_file or settings.data_dir / "recovery-key.txt"
    if args.recovery_key_file.exists():
        raise SystemExit(f"{args.recovery_key_file} exists; move it away first (it may be your only recovery key)")
    passwords = _passwords(2, args.password_stdin, [args.compliance_officer, args.audit_committee])
    migrate(settings)
    asyncio.run(_init(settings, args, passwords))
    print(f"Initialised. The recovery private key is in {args.recovery_key_file} (mode 0600).")
    print("Move it offline now (a safe, a password manager of the Audit Committee): it is needed to")
    print("recover cases when a staff member forgets a password or leaves, and it is stored nowhere else.")


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


def cmd_audit_verify(settings: Settings, args: argparse.Namespace) -> None:
    async def run() -> audit.Verification:
        ctx = Context(settings)
        try:
            async with ctx.sessions() as session:
                return await audit.verify(session)
        finally:
            await ctx.close()

    result = asyncio.run(run())
    if not result.ok:
        where = f" (first bad entry: {result.first_bad})" if result.first_bad else ""
        raise SystemExit(f"audit log BROKEN after {result.entries} entries: {result.problem}{where}")
    print(f"audit log intact: {result.entries} entries; head {result.head.hex()}")
    print("Keep the head somewhere else (a note to the Audit Committee): a later head must chain to it.")


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


def serve(settings: Settings, host: str, port: int, workers: int = 1) -> None:
    import uvicorn

    from asgi import create_app

    uvicorn.run(
        # Several worker processes each build the app from the environment.
        "asgi:app" if workers > 1 else create_app(settings),
        workers=workers,
        host=host,
        port=port,
        # No access log: it would hold reporters' addresses and the times they came.
        access_log=False,
        proxy_headers=False,
        server_header=False,
    )


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
    init.add_argument("--recovery-key-file", type=Path, help="default: DATA_DIR/recovery-key.txt")
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

    audit_parser = commands.add_parser("audit", help="the audit log").add_subparsers(dest="action", required=True)
    audit_parser.add_parser("verify", help="check the hash chain; exit 1 naming the first bad entry").set_defaults(
        handler=cmd_audit_verify
    )

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
