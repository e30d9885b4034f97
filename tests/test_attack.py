"""Hostile input and abuse: markup in every field, receipt guessing, a database that goes away."""

import asyncio
import re
from dataclasses import replace

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from asgi import create_app
from cases.installation import initialise
from cases.models import Base, Case
from tests.conftest import RECEIPT, Reporter

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
    pages = [
        await officer.get(f"/staff/cases/{reference}"),
        await officer.post(f"/staff/cases/{reference}/reveal", {"reason": PAYLOAD}),
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


async def test_a_burst_of_wrong_receipts_is_refused_and_then_a_real_one_works(client, installed, clock):
    installed.ctx.receipt_limiter.per_minute = 5
    receipt = await Reporter(client).file()
    for n in range(5):
        wrong = await client.post("/api/v1/follow-up", json={"receipt": f"0000-0000-0000-000{n}"})
        assert wrong.status_code == 404
    refused = await client.post("/api/v1/follow-up", json={"receipt": "0000-0000-0000-0009"})
    assert (refused.status_code, refused.json()["error"]) == (429, "too_many_attempts")
    page = await Reporter(client).open(receipt)  # during the burst, everyone waits: no address tells them apart
    assert page.status_code == 429 and "Wait a minute" in page.text
    clock.advance(seconds=61)
    assert (await client.post("/api/v1/follow-up", json={"receipt": receipt})).status_code == 200


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
                data={"category": "other", "summary": "s", "details": "kept", "csrf_token": token},
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
