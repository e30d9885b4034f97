"""Fixtures: the real app over httpx, on a real SQLite file and a real PostgreSQL database.

Every test that takes ``app`` or ``client`` runs twice, once per database.
Argon2id is made cheap through its setting, never by patching code.
PostgreSQL: TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres)
names a server where the run may create and drop its own databases. Without it
the PostgreSQL half is skipped, saying why, except under CI=true, where it fails.

A test marked ``backend_agnostic`` (it reads something the database cannot
change: a page's fixed text, a header, the API's description) runs once, on
SQLite. Anything about locking, migrations, data at rest or concurrency runs on both.

``database_templates`` builds a database once per backend (a set of staff and
cases, say) and gives each test its own copy: a file copy for SQLite,
``CREATE DATABASE ... TEMPLATE`` for PostgreSQL.
"""

import asyncio
import concurrent.futures
import contextlib
import os
import re
import secrets
import shutil
import sqlite3
import threading
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import asyncpg
import httpx
import jinja2
import jinja2.bccache
import pytest
import sqlalchemy
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.routing import Mount, Route

from asgi import create_app
from cases.accounts import create_staff, unlock
from cases.context import Context
from cases.identity import Identity
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


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "backend_agnostic: the test cannot depend on the database backend; it runs once, on SQLite"
    )


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc):
    # As a parametrize mark, before the marks are read: the fixture's own params then give way.
    if metafunc.definition.get_closest_marker("backend_agnostic") and "database_url" in metafunc.fixturenames:
        metafunc.definition.add_marker(pytest.mark.parametrize("database_url", ["sqlite"], indirect=True))


class PostgresDatabases:
    """The run's databases on the test PostgreSQL, made ahead of need and dropped behind, in a thread of their own.

    CREATE DATABASE copies its template's files (some 8 MB, even for an empty
    database): made, two at a time, while the tests before run, and dropped
    while the tests after run, that time overlaps theirs. Each test still gets
    a database of its own, which no other test has touched.
    """

    AHEAD = 2  # databases kept ready per template once one has been asked for
    CONNECTIONS = 2  # statements at once

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="postgres-databases", daemon=True)
        self.thread.start()
        self.ready: dict[str, deque[asyncio.Task]] = {}  # template -> its copies being made, in order
        self.dropping: list[concurrent.futures.Future] = []
        self.templates: set[str] = set()  # dropped at the end
        self.schema: concurrent.futures.Future | None = None
        self._admin: asyncpg.Pool = asyncio.run_coroutine_threadsafe(self._connect(), self.loop).result()

    def url(self, name: str) -> str:
        return str(make_url(self.admin_url).set(drivername="postgresql+asyncpg", database=name))

    # From the tests' loops.

    async def database(self, template: str = "template1") -> str:
        """The name of a new database, a copy of ``template`` (by default an empty one)."""
        future = asyncio.run_coroutine_threadsafe(self._take(template), self.loop)
        return await asyncio.wrap_future(future)

    async def schema_template(self) -> str:
        """A database with every table of the models and nothing in them (made once)."""
        if self.schema is None:
            self.schema = asyncio.run_coroutine_threadsafe(self._make_schema(), self.loop)
        return await asyncio.wrap_future(self.schema)

    def keep_as_template(self, name: str) -> None:
        self.templates.add(name)

    def drop_later(self, name: str) -> None:
        self.dropping.append(asyncio.run_coroutine_threadsafe(self._drop(name), self.loop))

    def close(self) -> None:
        """Drop every database of the run (from the main thread, at the end)."""
        try:
            asyncio.run_coroutine_threadsafe(self._close(), self.loop).result()
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join()
            self.loop.close()

    # In the thread's own loop.

    async def _connect(self) -> asyncpg.Pool:
        return await asyncpg.create_pool(self.admin_url, min_size=self.CONNECTIONS, max_size=self.CONNECTIONS)

    async def _execute(self, statement: str) -> None:
        await self._admin.execute(statement)

    async def _create(self, template: str) -> str:
        name = f"speakup_test_{os.getpid()}_{secrets.token_hex(4)}"
        await self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return name

    async def _take(self, template: str) -> str:
        queue = self.ready.setdefault(template, deque())
        if not queue:
            queue.append(self.loop.create_task(self._create(template)))
        made = queue.popleft()
        while len(queue) < self.AHEAD:  # the next ones, while this one is in use
            queue.append(self.loop.create_task(self._create(template)))
        return await made

    async def _make_schema(self) -> str:
        name = await self._create("template1")
        self.templates.add(name)
        engine = create_async_engine(self.url(name))
        try:
            async with engine.begin() as connection:
                await connection.run_sync(Base.metadata.create_all)
        finally:
            await engine.dispose()  # a template has no connection open
        return name

    async def _drop(self, name: str) -> None:
        await self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    async def _close(self) -> None:
        for queue in self.ready.values():
            for made in queue:
                with contextlib.suppress(Exception):
                    await self._drop(await made)
        await asyncio.gather(*(asyncio.wrap_future(f) for f in self.dropping), return_exceptions=True)
        for name in self.templates:
            await self._drop(name)
        await self._admin.close()


@pytest.fixture(scope="session")
def postgres_databases(postgres_server):
    databases = PostgresDatabases(postgres_server)
    yield databases
    databases.close()


@pytest.fixture(scope="session")
def sqlite_schema(tmp_path_factory) -> Path:
    """A SQLite file with every table of the models and nothing in them."""
    path = tmp_path_factory.mktemp("schema") / "schema.db"
    engine = sqlalchemy.create_engine(f"sqlite:///{path}")
    try:
        Base.metadata.create_all(engine)
    finally:
        engine.dispose()
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request, tmp_path):
    # The app fixture creates the tables: for its tests, start from a copy that has them (the same, sooner).
    with_tables = "app" in request.fixturenames
    if request.param == "sqlite":
        path = tmp_path / "speakup.db"
        if with_tables:
            shutil.copyfile(request.getfixturevalue("sqlite_schema"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
    template = await databases.schema_template() if with_tables else "template1"
    name = await databases.database(template)
    try:
        yield databases.url(name)
    finally:
        databases.drop_later(name)


def app_settings(database_url: str, data_dir: Path) -> Settings:
    """The settings every test's app runs with."""
    return Settings(
        database_url=database_url,
        data_dir=data_dir,
        argon2=CHEAP_ARGON2,
        max_attachments=3,
        max_attachment_bytes=64 * 1024,
        hr_match_key=bytes(range(32)),
        hr_api_token="test-hr-token-0f9e",
        worker_in_app=False,  # tests run the worker's steps themselves
    )


@pytest.fixture
def settings(database_url, tmp_path) -> Settings:
    return app_settings(database_url, tmp_path)


class CompiledTemplates(jinja2.BytecodeCache):
    """The pages' templates compiled once per run, not once per test's app.

    Jinja keeps each template's source checksum with its code: a template
    edited during the run is compiled again.
    """

    def __init__(self) -> None:
        self.compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        if bucket.key in self.compiled:
            bucket.bytecode_from_string(self.compiled[bucket.key])

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.compiled[bucket.key] = bucket.bytecode_to_string()


COMPILED_TEMPLATES = CompiledTemplates()


def new_app(settings: Settings):
    """The app, as ``create_app`` makes it, sharing the run's compiled templates."""
    app = create_app(settings)
    app.state.templates.env.bytecode_cache = COMPILED_TEMPLATES
    return app


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
    app = new_app(settings)
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


def mailbox_form(page: str) -> dict:
    """What every form of a page carries: its CSRF token and, on the mailbox page, which report it is for."""
    fields = {"csrf_token": csrf_from(page)}
    if match := re.search(r'name="case" value="([0-9a-f]+)"', page):
        fields["case"] = match.group(1)
    return fields


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
    """A reporter's browser: fetches each form first, as a person would, and follows the redirect
    every form answers a success with (post/redirect/get), as a browser does."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def token(self, path: str) -> str:
        page = await self.client.get(path)
        assert page.status_code == 200
        return csrf_from(page.text)

    async def follow(self, response: httpx.Response) -> httpx.Response:
        """The page a form's redirect leads to (the answer itself when it is no redirect)."""
        if response.status_code == 303:
            return await self.client.get(response.headers["location"])
        return response

    async def submit(self, fields: dict | None = None, files=None) -> httpx.Response:
        """The report form, sent once: its answer as it comes (a redirect, or the form with what to fix)."""
        data = {**REPORT_FORM, **(fields or {}), "csrf_token": await self.token("/report")}
        # multipart, as a browser sends this form even with no file chosen
        files = files if files is not None else [("attachments", ("", b"", "application/octet-stream"))]
        return await self.client.post("/report", data=data, files=files)

    async def file(self, fields: dict | None = None, files=None) -> str:
        """File a report and read its receipt from the receipt page. A details text of a few
        characters is sent anyway when the form asks, as a reporter who meant it would."""
        response = await self.submit(fields, files)
        if response.status_code == 422 and 'name="send_anyway"' in response.text:
            response = await self.submit({**(fields or {}), "send_anyway": "yes"}, files)
        assert response.status_code == 303, response.text
        page = await self.follow(response)
        assert page.status_code == 200, page.text
        return receipt_from(page.text)

    async def open(self, receipt: str) -> httpx.Response:
        """Enter the receipt: the mailbox page it leads to, or the receipt form saying what was wrong."""
        token = await self.token("/follow-up")
        return await self.follow(await self.client.post("/follow-up", data={"receipt": receipt, "csrf_token": token}))

    async def write(self, receipt: str, body: str, *, retaliation=False, files=None) -> httpx.Response:
        page = await self.open(receipt)
        data = {"body": body, **mailbox_form(page.text)}
        if retaliation:
            data["retaliation"] = "yes"
        files = files if files is not None else [("attachments", ("", b"", "application/octet-stream"))]
        return await self.follow(await self.client.post("/follow-up/messages", data=data, files=files))


@pytest.fixture
def reporter(client) -> Reporter:
    return Reporter(client)


async def case_for(ctx: Context, receipt: str):
    """The case a receipt filed, found as a returning reporter finds it (case ids are random,
    so "the newest case" is not the one with the highest id)."""
    from sqlalchemy import select

    from cases.models import Case
    from crypto.receipts import normalise

    installation = await ctx.installation()
    keys = await ctx.kdf.receipt(normalise(receipt), installation.receipt_salt)
    async with ctx.sessions() as session:
        return (await session.scalars(select(Case).where(Case.receipt_lookup == keys.lookup_id))).one()


async def close_the_day(ctx: Context) -> None:
    """What the worker does once today is over: the reporters' audit entries join the chain."""
    from datetime import timedelta

    from cases import audit

    async with ctx.sessions() as session, session.begin():
        await audit.append_past_days(session, ctx.today() + timedelta(days=1))


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


@dataclass
class Template:
    """A database built once for one backend: what its builder returned (plain values) and the clock it left."""

    backend: str
    source: str  # the SQLite file, or the PostgreSQL database
    value: object
    moment: datetime
    authenticators: dict[str, str] = field(default_factory=dict)
    postgres: PostgresDatabases | None = None

    def clock(self) -> Clock:
        """A clock where the build left it, with the staff's authenticators: their codes so far are used up."""
        clock = Clock()
        clock.moment = self.moment
        clock.authenticators = dict(self.authenticators)
        return clock


def _fold_wal(path: Path) -> None:
    """Write SQLite's write-ahead log back into the database file, so that a copy of the file alone is complete."""
    connection = sqlite3.connect(path)
    try:
        busy, _, _ = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        connection.close()  # the last connection to close removes the log
    wal = path.with_name(path.name + "-wal")
    assert busy == 0 and not (wal.exists() and wal.stat().st_size), f"{path} still has a write-ahead log"


class DatabaseTemplates:
    """Databases built once per backend and copied for each test (see ``database_templates``)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.built: dict[tuple[str, str], Template] = {}

    async def get(
        self,
        name: str,
        backend: str,
        build: Callable[[object, Clock], Awaitable[object]],
        postgres: PostgresDatabases | None = None,
    ) -> Template:
        """The template ``name`` on ``backend`` (PostgreSQL: made through ``postgres``).

        On first use, ``build(app, clock)`` fills an empty database through a running
        app; what it returns is kept, so it must be plain values (ids, e-mails,
        references), never rows or anything bound to that test's event loop.
        """
        if (name, backend) not in self.built:
            self.built[name, backend] = await self._build(name, backend, build, postgres)
        return self.built[name, backend]

    async def _build(self, name: str, backend: str, build, postgres: PostgresDatabases | None) -> Template:
        data_dir = self.directory / f"{name}-{backend}"
        if backend == "sqlite":
            path = data_dir / "template.db"
            path.unlink(missing_ok=True)  # left by a build that failed
            source, url = str(path), f"sqlite+aiosqlite:///{path}"
        else:
            assert postgres is not None
            source = await postgres.database()
            postgres.keep_as_template(source)
            url = postgres.url(source)
        app = new_app(app_settings(url, data_dir))
        clock = Clock()
        app.state.ctx.clock = clock
        async with app.state.ctx.engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        async with app.router.lifespan_context(app):
            value = await build(app, clock)
        # The lifespan's end disposed of the engine: no connection to the template is left open.
        if backend == "sqlite":
            _fold_wal(path)
        return Template(backend, source, value, clock.moment, dict(clock.authenticators), postgres)

    @staticmethod
    @contextlib.asynccontextmanager
    async def copy(template: Template, directory: Path) -> AsyncIterator[str]:
        """A database of the test's own with the template's contents: its URL. Dropped afterwards."""
        if template.postgres is None:
            path = directory / "speakup.db"
            shutil.copyfile(template.source, path)
            yield f"sqlite+aiosqlite:///{path}"
            return
        name = await template.postgres.database(template.source)
        try:
            yield template.postgres.url(name)
        finally:
            template.postgres.drop_later(name)


@pytest.fixture(scope="session")
def database_templates(tmp_path_factory) -> DatabaseTemplates:
    """Databases built once per run and backend, copied per test.

    Built on first use, inside that test's event loop; only plain values and
    file or database names are kept, so nothing outlives its loop. The
    PostgreSQL templates are dropped with the run's other databases (``postgres_databases``).
    """
    return DatabaseTemplates(tmp_path_factory.mktemp("templates"))


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
