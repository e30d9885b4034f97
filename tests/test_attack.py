"""Hostile input and abuse: markup in every field, receipt guessing, a database that goes away, input shaped to
crash a handler (typed numbers, CSRF tokens, NUL characters), a hostile Host header."""

import asyncio
import re
from dataclasses import replace
from urllib.parse import quote, urlsplit

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from asgi import create_app
from cases.accounts import create_staff
from cases.installation import initialise
from cases.models import Base, Case
from tests.conftest import RECEIPT, REPORT_FORM, STAFF_PASSWORD, Reporter, StaffBrowser, count_rows, csrf_from

PAYLOAD = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)>{{7*7}}"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&#39;&gt;&lt;img src=x onerror=alert(2)&gt;{{7*7}}"


async def test_markup_in_every_reporter_field_is_shown_escaped_on_every_staff_page(client, browsers, installed):
    reporter = Reporter(client)
    fields = {name: PAYLOAD for name in ("summary", "details", "occurred_on", "country", "people", "amount", "how_known")}
    receipt = await reporter.file(
        {**fields, "anonymity": "confidential", "name": PAYLOAD, "contact": PAYLOAD},
        files=[("attachments", (PAYLOAD + ".txt", b"x", "text/html"))],
    )
    await reporter.write(receipt, PAYLOAD, retaliation=True)
    async with installed.ctx.sessions() as session:
        reference = await session.scalar(select(Case.reference))
    officer = await browsers(installed.compliance_officer)
    await officer.post(f"/staff/cases/{reference}/note", {"body": PAYLOAD})
    revealed = await officer.post(f"/staff/cases/{reference}/reveal", {"reason": PAYLOAD})  # then redirected
    pages = [
        await officer.get(f"/staff/cases/{reference}"),
        await officer.get(revealed.headers["location"]),
        await officer.get("/staff/"),
        await officer.get("/staff/flags"),
        (await reporter.open(receipt)),
    ]
    committee = await browsers(installed.audit_committee)
    pages.append(await committee.get("/staff/audit"))
    for page in pages:
        assert page.status_code == 200
        assert "<script>" not in page.text and "onerror=alert(2)>" not in page.text
    case_page = pages[0].text
    # Every field, the file name, the message and the note, shown as text (and {{7*7}} not evaluated).
    assert case_page.count(ESCAPED) >= 9


async def test_a_burst_of_wrong_receipts_keeps_no_reporter_away(client, installed):
    """120 junk receipts a minute made the site refuse every reporter for a minute, one reporting
    retaliation included. No count of others' failures refuses a reporter now."""
    receipt = await Reporter(client).file()
    for n in range(150):
        wrong = await client.post("/api/v1/follow-up", json={"receipt": f"0000-0000-0000-{n:04d}"})
        assert wrong.status_code == 404
    assert (await client.post("/api/v1/follow-up", json={"receipt": receipt})).status_code == 200
    sent = await Reporter(client).write(receipt, "They moved my desk.", retaliation=True)
    assert sent.status_code == 200 and "Your message was sent." in sent.text


async def test_a_full_argon2id_queue_answers_503_at_once_and_the_form_keeps_the_receipt(client, installed, monkeypatch):
    """The Argon2id queue was unbounded: a flood queued without end. Past its bound a lookup is
    refused at once, with Retry-After; a reporter's page keeps what they typed."""
    import threading

    from cases import kdf_pool
    from cases.kdf_pool import KdfPool

    release = threading.Event()
    slow = kdf_pool.kdf.receipt_keys

    def held(*args):
        release.wait(10)
        return slow(*args)

    monkeypatch.setattr(kdf_pool.kdf, "receipt_keys", held)
    installed.ctx.kdf = KdfPool(installed.ctx.settings.argon2, 1)
    bound = 1 + kdf_pool.QUEUE_PER_SLOT
    waiting = [
        asyncio.create_task(client.post("/api/v1/follow-up", json={"receipt": f"0000-0000-0000-{n:04d}"})) for n in range(bound)
    ]
    for _ in range(500):  # until every one of them is running or waiting (a busy machine is slow to start them)
        if installed.ctx.kdf.in_flight == bound:
            break
        await asyncio.sleep(0.01)
    refused = await asyncio.wait_for(client.post("/api/v1/follow-up", json={"receipt": "0000-0000-0000-9999"}), 2)
    assert (refused.status_code, refused.json()["error"]) == (503, "busy") and int(refused.headers["retry-after"]) > 0
    page = await Reporter(client).open("7KQ4-M2XD-9PZA-HN3F")
    assert page.status_code == 503 and "7KQ4-M2XD-9PZA-HN3F" in page.text and int(page.headers["retry-after"]) > 0
    release.set()
    assert [r.status_code for r in await asyncio.gather(*waiting)] == [404] * bound


class Proxy:
    """A TCP proxy to PostgreSQL that the test can cut and restore."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.server = None
        self.port = None
        self.links: list[asyncio.StreamWriter] = []

    async def _pipe(self, reader, writer):
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader, writer):
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self.links += [writer, upstream_writer]
        asyncio.ensure_future(self._pipe(reader, upstream_writer))
        asyncio.ensure_future(self._pipe(upstream_reader, writer))

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port or 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        self.server.close()
        await self.server.wait_closed()
        for link in self.links:
            link.close()
        self.links.clear()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_when_postgresql_is_unreachable_intake_answers_503_and_recovers(settings):
    url = make_url(settings.database_url)
    proxy = Proxy(url.host, url.port or 5432)
    await proxy.start()
    app = create_app(
        replace(settings, database_url=url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False))
    )
    ctx = app.state.ctx
    async with ctx.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    async with ctx.sessions() as session:
        await initialise(session, ctx.today())
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="https://speakup.test") as client,
        ):
            reporter = Reporter(client)
            assert RECEIPT.fullmatch(await reporter.file())
            await proxy.cut()
            down = await reporter.client.post("/api/v1/reports", json={"category": "other", "summary": "s", "details": "d"})
            assert (down.status_code, down.json()["error"]) == (503, "unavailable")
            page = await client.get("/report")
            assert page.status_code == 200  # the form itself needs no database
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
            form = await client.post(
                "/report",
                data={"category": "other", "summary": "s", "details": "kept", "send_anyway": "yes", "csrf_token": token},
                files=[("attachments", ("", b"", ""))],
            )
            assert form.status_code == 503 and "Nothing was saved" in form.text and not RECEIPT.search(form.text)
            await proxy.start()  # the database is back
            assert RECEIPT.fullmatch(await reporter.file())
        async with ctx.sessions() as session:
            assert len((await session.scalars(select(Case.id))).all()) == 2  # nothing half-written
    finally:
        await ctx.close()
        await proxy.cut()


# Typed numbers as someone probing types them: digits of another script and a superscript (str.isdigit()
# is True for both; int() reads "١٢" as 12 and refuses "²"), more digits than any integer column holds,
# a sign, a space, a NUL, nothing.
TYPED_NUMBERS = ["١٢", "²", "9" * 25, "-1", " 7", "7\x00", ""]


@pytest.mark.parametrize(
    "typed", TYPED_NUMBERS, ids=["arabic-indic", "superscript", "25-digits", "negative", "space", "nul", "empty"]
)
async def test_no_typed_number_gets_a_500(client, browsers, installed, typed):
    ctx = installed.ctx
    reporter = Reporter(client)
    receipt = await reporter.file()
    async with ctx.sessions() as session:
        reference = await session.scalar(select(Case.reference))
    async with ctx.sessions() as session:
        admin = await create_staff(session, ctx, email="admin@example.test", role="admin", password=STAFF_PASSWORD)
    officer, committee, administrator = [
        await browsers(who) for who in (installed.compliance_officer, installed.audit_committee, admin)
    ]
    token = csrf_from((await reporter.open(receipt)).text)
    # In a path, nothing at all would be another address (Starlette's slash redirect).
    in_path = quote(typed, safe="") or "%20"
    answers = {
        # Staff forms: the page again, saying what to fix.
        "assign": (await officer.post(f"/staff/cases/{reference}/assign", {"assignee": typed}), 422),
        "implicate": (await officer.post(f"/staff/cases/{reference}/implicate", {"staff": typed}), 422),
        "team": (await officer.post("/staff/team", {"leaver": typed, "successor": str(installed.investigator.id)}), 422),
        # Query parameters: ignored, as an unknown filter is.
        "list page": (await officer.get("/staff/", params={"page": typed}), 200),
        "list per_page": (await officer.get("/staff/", params={"per_page": typed}), 200),
        "list assignee": (await officer.get("/staff/", params={"assignee": typed}), 200),
        "audit page": (await committee.get("/staff/audit", params={"page": typed}), 200),
        # Path ids (the route takes only ASCII digits, of any number): no such thing.
        "flag": (await officer.post(f"/staff/cases/{reference}/flags/{in_path}", {"step": "review"}), 404),
        "account": (await administrator.post(f"/staff/admin/staff/{in_path}", {"change": "disable"}), 404),
        # The reporter's side: the follow-up page with what to fix, and the API's coded error.
        "check-in page": (
            await client.post(
                "/follow-up/check-in", data={"receipt": receipt, "check_in": typed, "answer": "yes", "csrf_token": token}
            ),
            422,
        ),
        "check-in API": (
            await client.post("/api/v1/follow-up/check-ins", json={"receipt": receipt, "check_in": typed, "retaliation": True}),
            422,
        ),
    }
    if typed.lstrip("-").isascii() and typed.lstrip("-").isdigit():  # as a JSON number too
        number = int(typed)
        answers["check-in API number"] = (
            await client.post("/api/v1/follow-up/check-ins", json={"receipt": receipt, "check_in": number, "retaliation": True}),
            422,
        )
    wrong = {name: response.status_code for name, (response, status) in answers.items() if response.status_code != status}
    assert wrong == {}
    # Nothing changed hands.
    async with ctx.sessions() as session:
        case = await session.scalar(select(Case))
    assert case.assignee_id is None and case.status == "received"


@pytest.mark.parametrize(
    "token",
    ["é" * 43, "a" * 100_000, "\x00" * 43, "A" * 42 + "\u0130", ""],
    ids=["non-ascii", "100-kB", "nul", "dotted-capital-i", "empty"],
)
async def test_a_csrf_token_of_any_shape_is_refused_with_403(client, browsers, installed, token):
    officer = await browsers(installed.compliance_officer)
    await client.get("/report")  # the browser holds a good cookie; the form's token is the forgery
    answers = [
        await client.post("/report", data={**REPORT_FORM, "csrf_token": token}, files=[("attachments", ("", b"", ""))]),
        await client.post("/follow-up", data={"receipt": "7KQ4-M2XD-9PZA-HN3F", "csrf_token": token}),
        await client.post(
            "/staff/login", data={"email": installed.compliance_officer.email, "password": "x", "csrf_token": token}
        ),
        await officer.client.post("/staff/digest", data={"digest": "on", "csrf_token": token}),
        await officer.client.post("/staff/logout", data={"csrf_token": token}),
    ]
    assert [response.status_code for response in answers] == [403] * 5
    assert await count_rows(installed.ctx, Case) == 0
    assert (await officer.get("/staff/")).status_code == 200  # still logged in: the logout was refused


@pytest.mark.backend_agnostic
async def test_a_csrf_cookie_that_is_not_a_token_is_replaced_not_trusted(app, installed):
    # A cookie of 43 non-ASCII letters: isalnum() is True for each, compare_digest() refuses them.
    cookie = b"__Host-csrf=" + b"\xe9" * 43
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://speakup.test") as browser:
        page = await browser.get("/report", headers={"cookie": cookie})
        assert page.status_code == 200
        assert re.match(r"__Host-csrf=[A-Za-z0-9_-]{43};", page.headers["set-cookie"])  # a new one
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        forged = await browser.post("/report", data={**REPORT_FORM, "csrf_token": "é" * 43}, headers={"cookie": cookie})
        assert forged.status_code == 403
        assert token != "é" * 43


async def test_a_nul_in_staff_text_is_a_422_not_a_500(browsers, client, installed):
    ctx = installed.ctx
    await Reporter(client).file()
    async with ctx.sessions() as session:
        reference = await session.scalar(select(Case.reference))
    async with ctx.sessions() as session:
        admin = await create_staff(session, ctx, email="admin@example.test", role="admin", password=STAFF_PASSWORD)
    officer, administrator = await browsers(installed.compliance_officer), await browsers(admin)
    revealed = await officer.post(f"/staff/cases/{reference}/reveal", {"reason": "Needed\x00 to call back"})
    escalated = await officer.post(f"/staff/cases/{reference}/escalate", {"reason": "Conflict\x00 of interest"})
    created = await administrator.post(
        "/staff/admin", {"email": "new\x00@example.test", "role": "investigator", "password": "x" * 20}
    )
    assert [revealed.status_code, escalated.status_code, created.status_code] == [422, 422, 422]


HOSTILE_HOSTS = ["evil.example", "evil.example:8443", "speakup.test@evil.example", "a//evil.example", "evil.example/x", "[::1]"]


@pytest.mark.parametrize("host", HOSTILE_HOSTS)
async def test_redirects_are_relative_whatever_the_host_header_says(app, client, browsers, installed, clock, host):
    ctx = installed.ctx
    reporter = Reporter(client)
    receipt = await reporter.file()
    await reporter.write(receipt, "They moved me.", retaliation=True)  # a flag to work on
    async with ctx.sessions() as session:
        reference = await session.scalar(select(Case.reference))
    async with ctx.sessions() as session:
        admin = await create_staff(session, ctx, email="admin@example.test", role="admin", password=STAFF_PASSWORD)
    officer, administrator = await browsers(installed.compliance_officer), await browsers(admin)
    hostile = {"host": host}
    stranger = StaffBrowser(app, clock, installed.investigator.email)
    login = {"email": stranger.email, "password": STAFF_PASSWORD, "csrf_token": await stranger.token()}
    redirects = {
        "login": await stranger.client.post("/staff/login", data=login, headers=hostile),
        "not logged in": await client.get("/staff/", headers=hostile),
        "no trailing slash": await client.get("/staff", headers=hostile),
        "trailing slash (Starlette's own)": await client.get("/report/", headers=hostile),
        "case step": await officer.client.post(
            f"/staff/cases/{reference}/acknowledge", data={"csrf_token": await officer.token()}, headers=hostile
        ),
        "flag step": await officer.client.post(
            f"/staff/cases/{reference}/flags/1", data={"step": "review", "csrf_token": await officer.token()}, headers=hostile
        ),
        "administrator's list": await administrator.client.get("/staff/", headers=hostile),
        "account change": await administrator.client.post(
            f"/staff/admin/staff/{installed.investigator.id}",
            data={"change": "enable", "csrf_token": await administrator.token()},
            headers=hostile,
        ),
        "logout": await officer.client.post("/staff/logout", data={"csrf_token": await officer.token()}, headers=hostile),
    }
    await stranger.aclose()
    locations = {name: response.headers.get("location") for name, response in redirects.items()}
    assert all(300 <= response.status_code < 400 for response in redirects.values()), {
        n: r.status_code for n, r in redirects.items()
    }
    for name, location in locations.items():
        parts = urlsplit(location)
        assert location.startswith("/") and not location.startswith("//"), (name, location)
        assert not parts.scheme and not parts.netloc and "evil" not in location, (name, location)


async def test_a_nul_in_the_login_address_is_a_failed_login_not_a_500(browsers, installed, app, clock):
    from tests.conftest import StaffBrowser

    browser = StaffBrowser(app, clock, "compliance_officer@example.test\x00")
    try:
        response = await browser.client.post(
            "/staff/login",
            data={"email": browser.email, "password": "x" * 14, "code": "123456", "csrf_token": await browser.token()},
        )
        assert response.status_code == 401
    finally:
        await browser.aclose()


@pytest.mark.parametrize("path", ["/staff/cases/2026-0001/attachments/", "/staff/cases/2026-0001/flags/", "/staff/admin/staff/"])
async def test_an_id_too_long_for_any_row_matches_no_page(client, path):
    response = await client.request("GET" if "attachments" in path else "POST", path + "9" * 25)
    assert response.status_code == 404


async def test_a_staff_form_is_bounded_before_the_login_check(client):
    body = "email=" + "a" * (1024 * 1024 + 1)
    response = await client.post("/staff/login", content=body, headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413
