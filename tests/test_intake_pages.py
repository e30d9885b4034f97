"""The reporter's site, as a browser without JavaScript uses it."""

import re
from datetime import UTC, datetime, time, timedelta

import httpx
import pytest
from sqlalchemy import select, text

from cases.models import Attachment, Case, Message
from cases.workflow import acknowledge, write
from tests.conftest import RECEIPT, REPORT_FORM, Reporter, count_rows, csrf_from, identity_of

pytestmark = pytest.mark.usefixtures("installed")

AUTHORITIES = "Nothing in this channel"


@pytest.mark.parametrize("path", ["/", "/report", "/follow-up", "/no-such-page"])
@pytest.mark.backend_agnostic
async def test_every_page_states_the_right_to_go_to_the_authorities(client, path):
    page = await client.get(path)
    assert AUTHORITIES in page.text
    assert "Securities and Exchange Commission" in page.text and "Department of Justice" in page.text


@pytest.mark.backend_agnostic
async def test_start_page_explains_anonymity_and_loads_nothing_from_elsewhere(client):
    page = (await client.get("/")).text
    assert "How your anonymity is protected" in page
    assert "IP address" in page and "receipt" in page
    assert "<script" not in page
    for src in re.findall(r'(?:src|href)="([^"]+)"', page):
        if src.startswith("http"):
            # Links a reporter may follow are fine; nothing is *loaded* from another site.
            assert not re.search(rf'<(?:link|img|script|iframe)[^>]+(?:src|href)="{re.escape(src)}"', page)


@pytest.mark.backend_agnostic
async def test_report_form_shows_limits_and_has_a_hidden_honeypot(client):
    page = (await client.get("/report")).text
    assert "Up to 3 files, at most 64 KB each" in page  # the limits in force, from settings
    assert 'name="website"' in page and 'class="hp"' in page
    assert "This concerns the Compliance Officer, the CFO, the CEO, another officer, or a director" in page
    for label in ["Bribery of a foreign official", "Facilitation payment", "False or missing books and records"]:
        assert label in page


async def test_filing_shows_a_receipt_once_and_stores_the_case(client, reporter, installed):
    response = await reporter.submit()
    assert response.status_code == 303 and not RECEIPT.search(response.headers["location"] + response.text)
    page = await reporter.follow(response)
    assert "Write it down now" in page.text and RECEIPT.search(page.text)
    # Reloaded, the receipt page files nothing and shows no receipt: it was shown once.
    again = await client.get(response.headers["location"])
    assert again.status_code == 200 and "Your receipt was shown once" in again.text and not RECEIPT.search(again.text)
    case = await _only_case(installed)
    assert re.fullmatch(r"\d{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", case.reference)
    assert (case.category, case.routing, case.status) == ("foreign_bribery", "compliance_officer", "received")
    assert case.acknowledge_by == case.received_on + timedelta(days=7)


@pytest.mark.parametrize(
    "typed",
    [
        lambda r: r,
        lambda r: r.lower(),
        lambda r: r.replace("-", ""),
        lambda r: " ".join(r.split("-")).lower(),
        lambda r: "  " + r.replace("-", " - ") + "\n",
    ],
    ids=["as-shown", "lower", "no-hyphens", "spaces", "padded"],
)
async def test_receipt_opens_the_report_however_it_is_typed(reporter, typed):
    receipt = await reporter.file({"summary": "Typed receipt check"})
    page = await reporter.open(typed(receipt))
    assert page.status_code == 200
    assert "Typed receipt check" in page.text
    assert "Received" in page.text and "Feedback due by" in page.text


async def test_follow_up_shows_acknowledgement_feedback_date_and_staff_reply(reporter, installed):
    receipt = await reporter.file()
    case = await _only_case(installed)
    ctx = installed.ctx
    officer = await identity_of(installed, installed.compliance_officer)
    acknowledged = datetime.combine(case.received_on + timedelta(days=2), time(9), tzinfo=UTC)
    async with ctx.sessions() as session:
        await acknowledge(session, ctx, officer, case.reference, acknowledged)
    async with ctx.sessions() as session:
        await write(session, officer, case.reference, "Who approved the payment?", note=False, now=acknowledged)
    async with ctx.sessions() as session:
        await write(session, officer, case.reference, "Internal: check the agent's ledger", note=True, now=acknowledged)
    page = (await reporter.open(receipt)).text
    assert f"<dt>Acknowledged</dt><dd>{acknowledged.date().isoformat()}</dd>" in page
    assert "Who approved the payment?" in page and "Compliance team" in page
    assert "check the agent" not in page  # internal notes never reach the reporter


async def test_reporter_sends_a_message_with_a_file_and_sees_it(reporter, installed):
    receipt = await reporter.file()
    response = await reporter.write(
        receipt, "The regional director approved it.", files=[("attachments", ("ledger.csv", b"a,b\n1,2\n", "text/csv"))]
    )
    assert response.status_code == 200
    assert "Your message was sent." in response.text
    assert "The regional director approved it." in response.text
    assert "ledger.csv" in response.text
    assert await count_rows(installed.ctx, Attachment) == 1


async def test_retaliation_message_is_stored_flagged(reporter, installed):
    receipt = await reporter.file()
    response = await reporter.write(receipt, "I was moved to night shifts.", retaliation=True)
    assert "Retaliation reported" in response.text
    async with installed.ctx.sessions() as session:
        message = await session.scalar(select(Message))
    assert message.retaliation is True and message.sender == "reporter"


async def test_files_filed_with_the_report_are_listed(reporter):
    receipt = await reporter.file(
        files=[
            ("attachments", ("photo.jpg", b"\xff\xd8jpeg", "image/jpeg")),
            ("attachments", ("memo.txt", b"memo", "text/plain")),
        ]
    )
    page = (await reporter.open(receipt)).text
    assert "photo.jpg" in page and "memo.txt" in page


# Bad input: a clear error, the typed text kept, nothing stored.


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"summary": ""}, "summary", "This field is required."),
        ({"details": "   "}, "details", "This field is required."),
        ({"category": ""}, "category", "Choose one of the categories."),
        ({"category": "embezzlement"}, "category", "Unknown category."),
        ({"summary": "x" * 201}, "summary", "At most 200 characters"),
        ({"anonymity": "confidential", "name": "", "contact": ""}, "identity.name", "Give a name or a way to reach you"),
        ({"website": "http://spam.example"}, "website", "Leave this field empty."),
    ],
    ids=["no-summary", "blank-details", "no-category", "unknown-category", "long-summary", "empty-identity", "honeypot"],
)
@pytest.mark.backend_agnostic
async def test_bad_report_comes_back_with_the_text_kept_and_nothing_stored(reporter, installed, change, field, message):
    response = await reporter.submit({"details": "Kept text 8d1c", **change} if "details" not in change else change)
    assert response.status_code == 422
    assert message in response.text
    if "details" not in change:
        assert "Kept text 8d1c" in response.text
    assert 'aria-invalid="true"' in response.text or field == "website"
    assert await count_rows(installed.ctx, Case) == 0


@pytest.mark.backend_agnostic
async def test_oversize_file_is_refused_with_the_text_kept(reporter, installed):
    big = b"x" * (64 * 1024 + 1)
    response = await reporter.submit({"details": "Kept text 2b7e"}, files=[("attachments", ("big.bin", big, "application/pdf"))])
    assert response.status_code == 413
    assert "big.bin" in response.text and "Too large" in response.text
    assert "Kept text 2b7e" in response.text
    assert await count_rows(installed.ctx, Case) == 0


@pytest.mark.backend_agnostic
async def test_too_many_files_are_refused(reporter, installed):
    files = [("attachments", (f"f{i}.txt", b"data", "text/plain")) for i in range(4)]
    response = await reporter.submit(files=files)
    assert response.status_code == 413
    assert "At most 3 files" in response.text
    assert await count_rows(installed.ctx, Case) == 0


@pytest.mark.backend_agnostic
async def test_body_over_the_limit_gets_a_clear_page(client, installed):
    limit = installed.ctx.settings.max_request_bytes
    response = await client.post(
        "/report", content=b"x" * (limit + 1), headers={"content-type": "multipart/form-data; boundary=x"}
    )
    assert response.status_code == 413
    assert "larger than this channel accepts" in response.text
    assert await count_rows(installed.ctx, Case) == 0


@pytest.mark.backend_agnostic
async def test_malformed_multipart_is_refused_cleanly(client, reporter, installed):
    await reporter.token("/report")  # the browser holds its CSRF cookie
    response = await client.post(
        "/report",
        content=b"--zz\r\nContent-Disposition: form-data\r\n\r\nno name\r\n--zz--\r\n",
        headers={"content-type": "multipart/form-data; boundary=zz"},
    )
    assert response.status_code == 400
    assert "could not be read" in response.text
    assert await count_rows(installed.ctx, Case) == 0


@pytest.mark.backend_agnostic
async def test_report_without_csrf_token_is_refused_but_text_is_kept(client, installed):
    response = await client.post(
        "/report", data={**REPORT_FORM, "details": "Kept text 77aa"}, files=[("attachments", ("", b"", ""))]
    )
    assert response.status_code == 403
    assert "This form has expired" in response.text and "Kept text 77aa" in response.text
    assert await count_rows(installed.ctx, Case) == 0


@pytest.mark.backend_agnostic
async def test_report_from_another_site_is_refused(client, reporter, installed):
    token = await reporter.token("/report")
    response = await client.post("/report", data={**REPORT_FORM, "csrf_token": token}, headers={"sec-fetch-site": "cross-site"})
    assert response.status_code == 403
    assert await count_rows(installed.ctx, Case) == 0


@pytest.mark.backend_agnostic
async def test_message_without_csrf_token_is_refused(reporter, client, installed):
    receipt = await reporter.file()
    await reporter.open(receipt)
    response = await client.post("/follow-up/messages", data={"body": "hello", "csrf_token": "forged"})
    assert response.status_code == 403
    assert await count_rows(installed.ctx, Message) == 0


@pytest.mark.parametrize(
    ("typed", "status", "text"),
    [("not a receipt", 400, "16 letters and digits"), ("0000-0000-0000-0000", 404, "No report matches this receipt")],
)
@pytest.mark.backend_agnostic
async def test_bad_receipt_gets_a_clear_answer(reporter, typed, status, text):
    page = await reporter.open(typed)
    assert page.status_code == status
    assert text in page.text
    assert csrf_from(page.text)  # the form is there to try again


async def test_empty_message_is_refused_and_the_thread_still_shows(reporter, installed):
    receipt = await reporter.file({"summary": "Thread stays"})
    response = await reporter.write(receipt, "   ")
    assert response.status_code == 422
    assert "Write a message or attach a file." in response.text and "Thread stays" in response.text
    assert await count_rows(installed.ctx, Message) == 0


async def _only_case(installed) -> Case:
    async with installed.ctx.sessions() as session:
        return (await session.scalars(select(Case))).one()


FAIL_GRANTS = {
    "sqlite": ["CREATE TRIGGER fail_grants BEFORE INSERT ON grants BEGIN SELECT RAISE(ABORT, 'storage failed'); END"],
    "postgresql": [
        "CREATE FUNCTION fail_grants() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'storage failed'; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER fail_grants BEFORE INSERT ON grants FOR EACH ROW EXECUTE FUNCTION fail_grants()",
    ],
}


async def test_no_receipt_is_shown_when_the_report_cannot_be_stored(app, installed, settings):
    backend = "sqlite" if settings.database_url.startswith("sqlite") else "postgresql"
    async with installed.ctx.engine.begin() as connection:
        for statement in FAIL_GRANTS[backend]:
            await connection.execute(text(statement))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="https://speakup.test") as client:
        response = await Reporter(client).submit()
        api = await client.post("/api/v1/reports", json={"category": "other", "summary": "s", "details": "d"})
    assert response.status_code >= 500 and api.status_code >= 500
    assert not RECEIPT.search(response.text) and "receipt" not in api.json()
    assert await count_rows(installed.ctx, Case) == 0


@pytest.mark.parametrize(("method", "path", "status"), [("GET", "/static/nothing.css", 404), ("POST", "/static/style.css", 405)])
@pytest.mark.backend_agnostic
async def test_static_files_answer_errors_with_the_sites_own_page(client, method, path, status):
    response = await client.request(method, path)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html") and "Speak up" in response.text
    assert response.headers["x-frame-options"] == "DENY"
