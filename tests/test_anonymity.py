"""No client address or User-Agent is kept anywhere; every response carries the security headers."""

import logging
import socket

import httpx
import pytest
from sqlalchemy import select
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from cases.models import Base
from tests.conftest import CLIENT_ADDRESS, USER_AGENT, face

pytestmark = pytest.mark.usefixtures("installed")


async def all_stored_values(ctx) -> bytes:
    chunks = []
    async with ctx.sessions() as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).all():
                for value in row:
                    chunks.append(value if isinstance(value, bytes) else str(value).encode())
    return b"\n".join(chunks)


async def test_no_client_address_or_user_agent_in_any_table_or_log(client, reporter, installed, caplog):
    caplog.set_level(logging.DEBUG)
    receipt = await reporter.file({"details": "A report"})
    await reporter.write(receipt, "A follow-up", retaliation=True)
    await client.post(
        "/api/v1/reports",
        json={"category": "other", "summary": "s", "details": "d"},
        headers={"x-forwarded-for": CLIENT_ADDRESS, "forwarded": f"for={CLIENT_ADDRESS}"},
    )
    await client.post("/api/v1/follow-up", json={"receipt": "0000-0000-0000-0000"})

    stored = await all_stored_values(installed.ctx)
    assert len(stored) > 1000  # the tables hold the cases
    for needle in (CLIENT_ADDRESS.encode(), socket.inet_aton(CLIENT_ADDRESS), USER_AGENT.encode(), b"fingerprint-5e1f7a"):
        assert needle not in stored
    logged = "\n".join(r.getMessage() + str(r.args) for r in caplog.records)
    assert CLIENT_ADDRESS not in logged and "fingerprint-5e1f7a" not in logged


@pytest.mark.backend_agnostic
async def test_handlers_never_see_the_client(app, client):
    seen = {}

    async def probe(request):
        seen["client"] = request.client
        seen["headers"] = dict(request.headers)
        return PlainTextResponse("ok")

    face(app, "intake").router.routes.insert(0, Route("/probe", probe))
    await client.get("/probe", headers={"x-real-ip": CLIENT_ADDRESS, "referer": "https://intranet.example/"})
    assert seen["client"] is None
    assert not {"user-agent", "x-real-ip", "referer"} & set(seen["headers"])


EXPECTED_HEADERS = {
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
}


def assert_security_headers(response: httpx.Response) -> None:
    for name, value in EXPECTED_HEADERS.items():
        assert response.headers.get(name) == value, (name, response.status_code)
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    assert "script-src" not in csp and "unsafe-inline" not in csp
    assert "camera=()" in response.headers["permissions-policy"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/", None),
        ("GET", "/report", None),
        ("GET", "/static/style.css", None),
        ("GET", "/missing", None),
        ("POST", "/api/v1/reports", b"{bad"),
        ("POST", "/api/v1/follow-up", b'{"receipt": "0000-0000-0000-0000"}'),
        ("DELETE", "/report", None),
    ],
)
@pytest.mark.backend_agnostic
async def test_security_headers_on_every_response(client, method, path, body):
    response = await client.request(method, path, content=body, headers={"content-type": "application/json"})
    assert_security_headers(response)


@pytest.mark.backend_agnostic
async def test_security_headers_on_a_server_error_page(app, installed):
    async def boom(request):
        raise RuntimeError("boom with a secret 9f2c")

    face(app, "intake").router.routes.insert(0, Route("/boom", boom))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="https://speakup.test") as client:
        response = await client.get("/boom")
        api = await client.get("/api/v1/boom-not-found")
    assert response.status_code == 500
    assert "Something went wrong" in response.text and "9f2c" not in response.text
    assert_security_headers(response)
    assert_security_headers(api)


@pytest.mark.backend_agnostic
async def test_csrf_cookie_is_host_only_secure_httponly_strict(client):
    response = await client.get("/report")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("__Host-csrf=")
    for flag in ("HttpOnly", "Secure", "Path=/", "SameSite=strict"):
        assert flag.lower() in cookie.lower()
    assert "domain=" not in cookie.lower() and "expires" not in cookie.lower()  # dies with the browser session
