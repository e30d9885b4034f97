"""Load balancers' probes, and what a database that is down, cut off or too slow looks like: a 503 within
seconds with Retry-After, on the pages and the APIs, never a 500 or a hang. And the server's own flags."""

import asyncio
import contextlib
import socket
import subprocess
import sys
import time

import asyncpg
import httpx
import pytest
import uvicorn
from alembic import command
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from starlette.routing import Route

import cli
from cases.db import COMMAND_TIMEOUT, CONNECT_TIMEOUT, STATEMENT_TIMEOUT
from cases.health import alembic_config
from tests.conftest import (
    CLIENT_ADDRESS,
    POSTGRES_ADMIN_URL,
    REPORT_FORM,
    ROOT,
    STAFF_PASSWORD,
    app_settings,
    csrf_from,
    face,
    new_app,
    prepared_server,
)
from web.middleware import SECURITY_HEADERS

OK = {"status": "ok"}
API_REPORT = {"category": "other", "summary": "s", "details": "d"}


@contextlib.asynccontextmanager
async def serving(settings, *, migrated: bool = True):
    """An app on ``settings`` (its database migrated first), with its lifespan, and a client."""
    if migrated:
        await asyncio.to_thread(cli.migrate, settings)  # Alembic runs its own event loop
    app = new_app(settings)
    transport = httpx.ASGITransport(app=app, client=(CLIENT_ADDRESS, 40321), raise_app_exceptions=False)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="https://speakup.test") as client,
        ):
            yield app, client
    finally:
        await app.state.ctx.close()


def assert_probe(response: httpx.Response, status: int, body: dict) -> None:
    assert (response.status_code, response.json()) == (status, body)
    assert response.headers["content-type"] == "application/json"
    for name, value in SECURITY_HEADERS.items():  # the same headers as every page, no-store included
        assert response.headers[name] == value
    assert "server" not in response.headers


def assert_unavailable(response: httpx.Response) -> None:
    """The database's outage as the APIs answer it."""
    assert (response.status_code, response.json()["error"]) == (503, "unavailable"), response.text
    assert response.headers["retry-after"] == "30"


async def test_probes_answer_ok_on_a_migrated_database(settings):
    async with serving(settings) as (_, client):
        assert_probe(await client.get("/healthz"), 200, OK)
        assert_probe(await client.get("/readyz"), 200, OK)
        assert (await client.head("/readyz")).status_code == 200


async def test_readyz_is_503_while_the_schema_is_behind_the_code(settings):
    """New code started on a database not yet migrated: no traffic until `speakup migrate` has run."""
    config = alembic_config(settings.database_url)
    await asyncio.to_thread(command.upgrade, config, "2513e30f7488")  # the first migration only
    async with serving(settings, migrated=False) as (_, client):
        down = await client.get("/readyz")
        assert_probe(down, 503, {"status": "unavailable", "detail": "schema not at head"})
        assert down.headers["retry-after"] == "30"
        assert_probe(await client.get("/healthz"), 200, OK)  # the process itself is fine
        await asyncio.to_thread(cli.migrate, settings)
        assert_probe(await client.get("/readyz"), 200, OK)


async def test_readyz_is_503_on_a_database_never_migrated(client):
    # The test fixtures build their tables without Alembic: no version table at all.
    assert_probe(await client.get("/readyz"), 503, {"status": "unavailable", "detail": "schema not at head"})


async def answers_of_a_database_that_is_down(client: httpx.AsyncClient, started: float, bound: float) -> None:
    """Every face answers an outage as a 503 within ``bound`` seconds of ``started`` (each request)."""
    assert_probe(await client.get("/healthz"), 200, OK)
    ready = await client.get("/readyz")
    assert_probe(ready, 503, {"status": "unavailable", "detail": "database unreachable"})
    # The reporter's JSON API.
    assert_unavailable(await client.post("/api/v1/reports", json=API_REPORT))
    assert_unavailable(await client.post("/api/v1/follow-up", json={"receipt": "7KQ4-M2XD-9PZA-HN3F"}))
    # The HR API answers before it matches: with the database down it must not take the batch and drop it.
    hr_rows = {"actions": [{"employee_id": "E-1", "action": "demotion", "date": "2026-11-02"}]}
    token = {"authorization": "Bearer test-hr-token-0f9e"}  # app_settings' token
    assert_unavailable(await client.post("/api/v1/hr/adverse-actions", json=hr_rows, headers=token))
    # The reporter's pages: the form needs no database; sending it does.
    form = await client.get("/report")
    assert form.status_code == 200
    sent = await client.post(
        "/report",
        data={**REPORT_FORM, "csrf_token": csrf_from(form.text)},
        files=[("attachments", ("", b"", "application/octet-stream"))],
    )
    assert sent.status_code == 503 and "Nothing was saved" in sent.text and sent.headers["retry-after"] == "30"
    # The staff site: a login reads the database.
    await client.get("/staff/login")
    login = await client.post(
        "/staff/login",
        data={
            "email": "co@example.test",
            "password": STAFF_PASSWORD,
            "code": "123456",
            "csrf_token": client.cookies["__Host-csrf"],
        },
    )
    assert login.status_code == 503 and login.headers["retry-after"] == "30"
    assert time.monotonic() - started < bound


async def test_a_closed_database_port_is_a_503_everywhere_at_once(tmp_path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = app_settings(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/speakup", tmp_path)
    async with serving(settings, migrated=False) as (_, client):
        # Refused at once: every request answers in well under a second.
        await answers_of_a_database_that_is_down(client, time.monotonic(), bound=5)


async def test_a_database_that_never_answers_is_a_503_within_the_connect_timeout(tmp_path):
    """A partition: the TCP connection opens (a host that accepts and then says nothing), no reply ever comes."""
    held: list[asyncio.StreamWriter] = []

    async def silent(reader, writer):
        held.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = app_settings(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/speakup", tmp_path)
    try:
        async with serving(settings, migrated=False) as (_, client):
            started = time.monotonic()
            down = await client.post("/api/v1/reports", json=API_REPORT)
            assert_unavailable(down)
            assert CONNECT_TIMEOUT - 1 < time.monotonic() - started < CONNECT_TIMEOUT + 2
            started = time.monotonic()
            assert_probe(await client.get("/readyz"), 503, {"status": "unavailable", "detail": "database unreachable"})
            assert time.monotonic() - started < CONNECT_TIMEOUT + 2
    finally:
        server.close()
        for writer in held:
            writer.close()


class FreezingProxy:
    """A TCP proxy to PostgreSQL that can freeze: the connections stay open, nothing goes through any more
    (a partition, not a refusal). New connections are then accepted and left unanswered too."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.frozen = False
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            while data := await reader.read(65536):
                if not self.frozen:
                    writer.write(data)
                    await writer.drain()

    async def _handle(self, reader, writer) -> None:
        self.writers.append(writer)
        if self.frozen:
            return
        upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        self.writers.append(upstream_writer)
        asyncio.ensure_future(self._pipe(reader, upstream_writer))
        asyncio.ensure_future(self._pipe(upstream_reader, writer))

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.close()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_partition_under_open_connections_is_a_503_within_seconds(settings):
    url = make_url(settings.database_url)
    await asyncio.to_thread(cli.migrate, settings)
    proxy = FreezingProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    try:
        async with serving(app_settings(proxied, settings.data_dir), migrated=False) as (_, client):
            assert_probe(await client.get("/readyz"), 200, OK)  # the pool now holds an open connection
            proxy.frozen = True
            # The pooled connection's ping gives up after COMMAND_TIMEOUT (and SQLAlchemy waits 2 s more
            # to close it politely); the next request's new connection after CONNECT_TIMEOUT.
            for request, bound in [
                (client.get("/readyz"), COMMAND_TIMEOUT + 2),
                (client.post("/api/v1/reports", json=API_REPORT), CONNECT_TIMEOUT),
            ]:
                started = time.monotonic()
                response = await request
                assert response.status_code == 503, response.text
                assert time.monotonic() - started < bound + 1
    finally:
        await proxy.close()


async def backend_waiting_for_a_lock(admin: asyncpg.Connection, database: str) -> int:
    for _ in range(200):
        pid = await admin.fetchval("SELECT pid FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'", database)
        if pid:
            return pid
        await asyncio.sleep(0.02)
    raise AssertionError("no request is waiting for the lock")


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_statement_stuck_or_its_connection_killed_midway_is_a_503_not_a_500(client, settings):
    """The request's statement waits on a lock that another session holds: first the server's
    statement_timeout cancels it; then, another time, the backend is terminated while it waits."""
    database = make_url(settings.database_url).database
    admin = await asyncpg.connect(make_url(POSTGRES_ADMIN_URL).set(database=database).render_as_string(hide_password=False))
    try:
        await admin.execute("BEGIN; LOCK TABLE cases IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        assert_unavailable(await client.post("/api/v1/reports", json=API_REPORT))
        assert STATEMENT_TIMEOUT - 1 < time.monotonic() - started < COMMAND_TIMEOUT + 1

        filing = asyncio.ensure_future(client.post("/api/v1/reports", json=API_REPORT))
        pid = await backend_waiting_for_a_lock(admin, database)
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
        assert_unavailable(await filing)
        await admin.execute("ROLLBACK")

        filed = await client.post("/api/v1/reports", json=API_REPORT)  # the pool replaced the dead connection
        assert filed.status_code == 201, filed.text
        assert await admin.fetchval("SELECT count(*) FROM cases") == 1  # nothing half-written
    finally:
        await admin.close()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_an_idle_connection_killed_between_requests_is_replaced_unseen(client, settings):
    assert (await client.post("/api/v1/reports", json=API_REPORT)).status_code == 201
    database = make_url(settings.database_url).database
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        killed = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
        assert killed >= 1
    finally:
        await admin.close()
    assert (await client.post("/api/v1/reports", json=API_REPORT)).status_code == 201


def test_serve_runs_uvicorn_without_websockets_proxy_headers_or_identifying_headers(tmp_path):
    settings = app_settings(f"sqlite+aiosqlite:///{tmp_path}/speakup.db", tmp_path)
    for workers in (1, 2):
        config = uvicorn.Config(**cli.server_options(settings, "127.0.0.1", 8000, workers))
        assert (config.ws, config.proxy_headers, config.access_log) == ("none", False, False)
        assert (config.server_header, config.date_header) == (False, False)
    config.app = new_app(settings)  # load it as uvicorn would, without the second worker's environment
    config.workers = 1
    config.load()
    assert config.ws_protocol_class is None  # no WebSocket implementation at all
    assert not isinstance(config.loaded_app, uvicorn.middleware.proxy_headers.ProxyHeadersMiddleware)
    assert config.encoded_headers == []  # no Server header


async def test_the_real_server_refuses_a_websocket_and_ignores_forwarded_addresses(tmp_path):
    """`speakup serve` as a process: an upgrade is answered as plain HTTP, with no Server or Date header."""
    server = await prepared_server(f"sqlite+aiosqlite:///{tmp_path}/speakup.db", tmp_path)
    log = tmp_path / "server.log"
    with log.open("w") as output:
        server.process = subprocess.Popen(
            [sys.executable, "-c", f"import cli; cli.main(['serve', '--port', '{server.port}'])"],
            env=server.env,
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            async with httpx.AsyncClient(base_url=server.base) as client:
                for _ in range(200):
                    with contextlib.suppress(httpx.TransportError):
                        if (await client.get("/healthz")).status_code == 200:
                            break
                    await asyncio.sleep(0.05)
                healthy = await client.get("/healthz", headers={"x-forwarded-for": "198.51.100.23"})
                assert (healthy.status_code, healthy.json()) == (200, OK)
                assert "server" not in healthy.headers and "date" not in healthy.headers
                assert (await client.get("/readyz")).status_code == 200
                upgrade = await client.get(
                    "/healthz",
                    headers={
                        "connection": "upgrade",
                        "upgrade": "websocket",
                        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
                        "sec-websocket-version": "13",
                        "x-forwarded-for": "198.51.100.23",
                    },
                )
                assert upgrade.status_code == 200  # answered as the plain request it also is; never 101
        finally:
            server.kill()
    logged = log.read_text()
    assert "198.51.100.23" not in logged and "127.0.0.1:" not in logged.replace(f"127.0.0.1:{server.port}", "")


@pytest.mark.backend_agnostic
async def test_a_fault_of_ours_in_the_database_stays_a_500_and_reaches_the_server(app, installed):
    """Only an outage is a 503: a broken constraint is a bug, answered 500 and raised on to the server's log."""

    async def broken(request):
        raise IntegrityError("INSERT …", {}, Exception("duplicate key"))

    face(app, "api").routes.append(Route("/v1/broken", broken, methods=["POST"]))
    quiet = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=quiet, base_url="https://speakup.test") as client:
        response = await client.post("/api/v1/broken")
    assert (response.status_code, response.json()["error"]) == (500, "internal_error")
    assert "retry-after" not in response.headers
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://speakup.test") as client:
        with pytest.raises(IntegrityError):
            await client.post("/api/v1/broken")
