"""Fixtures: the real app over httpx, on a real SQLite file and a real PostgreSQL database.

Every test that takes ``app`` or ``client`` runs twice, once per database.
Argon2id is made cheap through its setting, never by patching code.
PostgreSQL: TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres)
names a server where the run may create and drop its own databases. Without it
the PostgreSQL half is skipped, saying why, except under CI=true, where it fails.
"""

import asyncio
import os
import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url
from starlette.routing import Mount, Route

from asgi import create_app
from cases.accounts import create_staff, unlock
from cases.auth import Identity
from cases.context import Context
from cases.installation import initialise
from cases.models import Base
from cases.settings import Settings
from crypto.kdf import Argon2Params

POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
CHEAP_ARGON2 = Argon2Params(opslimit=1, memlimit=8192)
# A documentation address (RFC 5737) and a User-Agent no test types anywhere else.
CLIENT_ADDRESS = "203.0.113.77"
USER_AGENT = "SpeakupTestBrowser/9.9 (fingerprint-5e1f7a)"
STAFF_PASSWORD = "correct horse battery staple"
ROOT = Path(__file__).resolve().parent.parent
RECEIPT = re.compile(r"\b[0-9A-HJKMNP-TV-Z]{4}(?:-[0-9A-HJKMNP-TV-Z]{4}){3}\b")


@pytest.fixture(scope="session")
def postgres_server():
    """The admin URL of a reachable PostgreSQL, or a skip (a failure under CI)."""

    async def probe():
        connection = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
        await connection.close()

    try:
        # Requested from inside a running event loop: probe from a thread of its own.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, probe()).result()
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        reason = f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {error}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (required under CI=true)")
        pytest.skip(reason)
    return POSTGRES_ADMIN_URL


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/speakup.db"
        return
    admin_url = request.getfixturevalue("postgres_server")
    name = f"speakup_test_{os.getpid()}_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield str(make_url(admin_url).set(drivername="postgresql+asyncpg", database=name))
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
def settings(database_url, tmp_path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path,
        argon2=CHEAP_ARGON2,
        max_attachments=3,
        max_attachment_bytes=64 * 1024,
        hr_match_key=bytes(range(32)),
        hr_api_token="test-hr-token-0f9e",
        worker_in_app=False,  # tests run the worker's steps themselves
    )


@dataclass
class Installed:
    """What the test installation holds: its staff and the offline recovery key."""

    ctx: Context
    recovery_key: object
    compliance_officer: object
    audit_committee: object
    investigator: object


@pytest.fixture
async def app(settings):
    app = create_app(settings)
    ctx: Context = app.state.ctx
    async with ctx.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def installed(app) -> Installed:
    ctx: Context = app.state.ctx
    async with ctx.sessions() as session:
        recovery = await initialise(session, ctx.today())
    staff = {}
    for role in ("compliance_officer", "audit_committee", "investigator"):
        async with ctx.sessions() as session:
            staff[role] = await create_staff(session, ctx, email=f"{role}@example.test", role=role, password=STAFF_PASSWORD)
    return Installed(ctx, recovery, **staff)


async def identity_of(installed: Installed, staff) -> Identity:
    """Act as a staff member without the web login (for setting up a case's history)."""
    return Identity(staff, await unlock(installed.ctx, staff, STAFF_PASSWORD))


@pytest.fixture
async def client(app, installed):
    transport = httpx.ASGITransport(app=app, client=(CLIENT_ADDRESS, 40123))
    async with httpx.AsyncClient(
        transport=transport, base_url="https://speakup.test", headers={"user-agent": USER_AGENT}
    ) as client:
        yield client


def face(app, name: str):
    """The sub-app mounted under ``name`` ("intake", "staff", "hr_api")."""
    return next(route.app for route in app.routes if isinstance(route, Mount) and route.name == name)


def route_paths(app, prefix: str = "") -> list[str]:
    """Every route's full path, through the mounted faces."""
    paths = []
    for route in app.routes:
        if isinstance(route, Mount) and hasattr(route.app, "routes"):
            paths += route_paths(route.app, prefix + route.path)
        elif isinstance(route, Route):
            paths.append(prefix + route.path)
    return paths


def csrf_from(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "the page has no CSRF token"
    return match.group(1)


def receipt_from(page: str) -> str:
    match = RECEIPT.search(page)
    assert match, "the page shows no receipt"
    return match.group(0)


REPORT_FORM = {
    "category": "foreign_bribery",
    "summary": "Cash to a customs inspector",
    "details": "The agent paid the inspector to clear the shipment.",
    "country": "Peru",
    "foreign_official_involved": "yes",
    "anonymity": "anonymous",
}


class Reporter:
    """A reporter's browser: fetches each form first, as a person would."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def token(self, path: str) -> str:
        page = await self.client.get(path)
        assert page.status_code == 200
        return csrf_from(page.text)

    async def submit(self, fields: dict | None = None, files=None) -> httpx.Response:
        data = {**REPORT_FORM, **(fields or {}), "csrf_token": await self.token("/report")}
        # multipart, as a browser sends this form even with no file chosen
        files = files if files is not None else [("attachments", ("", b"", "application/octet-stream"))]
        return await self.client.post("/report", data=data, files=files)

    async def file(self, fields: dict | None = None, files=None) -> str:
        response = await self.submit(fields, files)
        assert response.status_code == 200, response.text
        return receipt_from(response.text)

    async def open(self, receipt: str) -> httpx.Response:
        token = await self.token("/follow-up")
        return await self.client.post("/follow-up", data={"receipt": receipt, "csrf_token": token})

    async def write(self, receipt: str, body: str, *, retaliation=False, files=None) -> httpx.Response:
        page = await self.open(receipt)
        data = {"receipt": receipt, "body": body, "csrf_token": csrf_from(page.text)}
        if retaliation:
            data["retaliation"] = "yes"
        files = files if files is not None else [("attachments", ("", b"", "application/octet-stream"))]
        return await self.client.post("/follow-up/messages", data=data, files=files)


@pytest.fixture
def reporter(client) -> Reporter:
    return Reporter(client)


async def count_rows(ctx: Context, model) -> int:
    from sqlalchemy import func, select

    async with ctx.sessions() as session:
        return await session.scalar(select(func.count()).select_from(model))


class Clock:
    """A clock the test moves by hand; the app reads it through ``ctx.clock``.

    It also keeps the staff's authenticator secrets (their phones), by e-mail,
    so every browser of a staff member can produce their codes.
    """

    def __init__(self) -> None:
        from datetime import UTC, datetime

        self.moment = datetime.now(UTC).replace(microsecond=0)
        self.authenticators: dict[str, str] = {}

    def __call__(self):
        return self.moment

    def advance(self, **delta) -> None:
        from datetime import timedelta

        self.moment += timedelta(**delta)


@pytest.fixture
def clock(app) -> Clock:
    clock = Clock()
    app.state.ctx.clock = clock
    return clock


class StaffBrowser:
    """A staff member's browser, with its own cookies, and their authenticator app."""

    def __init__(self, app, clock: Clock, email: str, password: str = STAFF_PASSWORD) -> None:
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=(CLIENT_ADDRESS, 40200)),
            base_url="https://speakup.test",
            headers={"user-agent": USER_AGENT},
        )
        self.clock, self.email, self.password = clock, email, password

    @property
    def totp_secret(self) -> str | None:
        return self.clock.authenticators.get(self.email)

    @totp_secret.setter
    def totp_secret(self, secret: str | None) -> None:
        if secret is None:
            self.clock.authenticators.pop(self.email, None)
        else:
            self.clock.authenticators[self.email] = secret

    def code(self) -> str:
        import pyotp

        return pyotp.TOTP(self.totp_secret).at(self.clock())

    async def token(self) -> str:
        await self.client.get("/staff/login")
        return self.client.cookies["__Host-csrf"]

    async def login(self, code: str | None = None, password: str | None = None) -> httpx.Response:
        """Log in; at a first login, enrol the authenticator as a person would, from the page."""
        data = {"email": self.email, "password": password or self.password, "csrf_token": await self.token()}
        if self.totp_secret:
            data["code"] = code or self.code()
        response = await self.client.post("/staff/login", data=data)
        if response.status_code == 303 and response.headers["location"] == "/staff/enrol":
            page = (await self.client.get("/staff/enrol")).text
            self.totp_secret = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', page).group(1).replace(" ", "")
            response = await self.client.post("/staff/enrol", data={"code": self.code(), "csrf_token": await self.token()})
        # A code is good once: later logins in the same test need the next time step.
        self.clock.advance(seconds=30)
        return response

    async def post(self, path: str, data: dict | None = None) -> httpx.Response:
        return await self.client.post(path, data={**(data or {}), "csrf_token": await self.token()})

    async def get(self, path: str, **kwargs) -> httpx.Response:
        return await self.client.get(path, **kwargs)

    async def aclose(self) -> None:
        await self.client.aclose()


@pytest.fixture
async def browsers(app, installed, clock):
    """Logged-in browsers of the test installation's staff, by role."""
    opened = {}

    async def open_as(staff) -> StaffBrowser:
        browser = StaffBrowser(app, clock, staff.email)
        response = await browser.login()
        assert response.status_code == 303, response.text
        opened[staff.email] = browser
        return browser

    yield open_as
    for browser in opened.values():
        await browser.aclose()


class Mailbox:
    """A real SMTP server (aiosmtpd) on loopback, keeping what it receives."""

    def __init__(self) -> None:
        import socket

        with socket.socket() as probe:  # Controller(port=0) fails its readiness check: pick a port first
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.messages: list = []
        self.hold = None  # a threading.Event: when set up, DATA waits for it (a slow or dying exchange)
        self.controller = None

    async def handle_DATA(self, server, session, envelope):
        import asyncio
        import email
        import email.policy

        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))
        if self.hold is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.hold.wait)
        return "250 OK"

    def start(self, **tls) -> None:
        """Plain; or ``ssl_context=`` for implicit TLS; or ``tls_context=`` (and ``require_starttls=``) for STARTTLS."""
        from aiosmtpd.controller import Controller

        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, **tls)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?starttls=off"

    def to(self, address: str) -> list:
        return [m for rcpts, m in self.messages if address in rcpts]


@pytest.fixture
async def smtp(app, installed):
    from dataclasses import replace

    from cases.outbox import send_due

    server = Mailbox()
    server.start()
    app.state.ctx.settings = replace(app.state.ctx.settings, smtp_url=server.url, mail_from="speakup@example.test")
    from datetime import UTC, datetime

    await send_due(app.state.ctx, datetime.now(UTC))  # the installation's own announcements, out of the way
    server.messages.clear()
    yield server
    if server.hold is not None:
        server.hold.set()
    server.stop()


class Server:
    """`speakup serve` (uvicorn) in its own process on a loopback port, as in production."""

    def __init__(self, env: dict) -> None:
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.env = env
        self.process = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        import subprocess
        import sys

        self.process = subprocess.Popen(
            [sys.executable, "-c", f"import cli; cli.main(['serve', '--port', '{self.port}'])"],
            env=self.env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(200):
            try:
                async with httpx.AsyncClient() as client:
                    if (await client.get(self.base + "/")).status_code == 200:
                        return
            except httpx.TransportError:
                await asyncio.sleep(0.05)
        raise AssertionError("the server did not start")

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()


async def prepared_server(database_url: str, tmp_path, **settings: str) -> Server:
    """A migrated, initialised database with a Compliance Officer, and a server for it (not yet started).

    ``settings`` are extra SPEAKUP_* variables, by their lower-case names.
    """
    from cli import migrate

    await asyncio.to_thread(migrate, Settings(database_url=database_url, data_dir=tmp_path))
    ctx = Context(Settings(database_url=database_url, data_dir=tmp_path, argon2=CHEAP_ARGON2))
    try:
        async with ctx.sessions() as session:
            await initialise(session, ctx.today())
        async with ctx.sessions() as session:
            await create_staff(session, ctx, email="co@example.test", role="compliance_officer", password=STAFF_PASSWORD)
    finally:
        await ctx.close()
    env = {
        **os.environ,
        "SPEAKUP_DATABASE_URL": database_url,
        "SPEAKUP_DATA_DIR": str(tmp_path),
        "SPEAKUP_ARGON2_OPSLIMIT": "1",
        "SPEAKUP_ARGON2_MEMLIMIT": "8192",
        "SPEAKUP_WORKER_IN_APP": "false",
    }
    env.update({f"SPEAKUP_{name.upper()}": value for name, value in settings.items()})
    return Server(env)
