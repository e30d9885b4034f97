"""The JSON intake API for hotline operators."""

import base64
import json
import threading
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from cases.models import Attachment, Case, Message
from crypto import receipts
from tests.conftest import RECEIPT, count_rows, csrf_from, route_paths
from web import bodies
from web.bodies import JSON_TEXT_BYTES, MAX_JSON_VALUES, MAX_URLENCODED_BYTES

pytestmark = pytest.mark.usefixtures("installed")

REPORT = {
    "category": "third_party",
    "summary": "Distributor commission far above market",
    "details": "The distributor gets 35% commission; its owner is an official's brother.",
    "occurred_on": "2026-03",
    "country": "Nigeria",
    "people": "Regional sales director (approver)",
    "foreign_official_involved": "yes",
    "amount": "USD 400,000",
    "how_known": "I process the invoices.",
    "concerns_leadership": False,
    "identity": None,
}


async def file(client, **changes) -> str:
    response = await client.post("/api/v1/reports", json={**REPORT, **changes})
    assert response.status_code == 201, response.text
    return response.json()["receipt"]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def test_file_then_follow_up_returns_the_reporters_own_fields(client):
    receipt = await file(client)
    assert RECEIPT.fullmatch(receipt)
    response = await client.post("/api/v1/follow-up", json={"receipt": receipt.lower().replace("-", " ")})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "received"
    assert body["acknowledged_on"] is None
    assert body["acknowledge_by"] > body["received_on"] and body["feedback_by"] > body["acknowledge_by"]
    assert body["report"] == {k: v for k, v in REPORT.items() if k != "identity"}
    assert body["messages"] == [] and body["minutes"] == []
    assert (body["routing"], body["closed_on"], body["feedback_given_on"]) == ("compliance_officer", None, None)


async def test_a_report_keeps_the_channel_it_came_in_by(client, installed):
    """An operator says how the report came in; the channel is plain metadata on the case, not in the report."""
    receipts = {channel: await file(client, channel=channel) for channel in ("phone", "letter", "email", "meeting", "web")}
    async with installed.ctx.sessions() as session:
        stored = dict((await session.execute(select(Case.receipt_lookup, Case.channel))).all())
    assert sorted(stored.values()) == sorted(receipts)
    body = (await client.post("/api/v1/follow-up", json={"receipt": receipts["phone"]})).json()
    assert "channel" not in body["report"]


@pytest.mark.parametrize("channel", ["fax", "", "PHONE", 1, None, ["phone"]])
@pytest.mark.backend_agnostic
async def test_an_unknown_channel_is_refused_naming_the_field(client, installed, channel):
    response = await client.post("/api/v1/reports", json={**REPORT, "channel": channel})
    assert (response.status_code, response.json()["error"]) == (422, "invalid_input")
    assert list(response.json()["fields"]) == ["channel"]
    assert await count_rows(installed.ctx, Case) == 0


@pytest.mark.backend_agnostic
async def test_the_api_describes_who_counts_as_leadership_and_the_channels(client):
    report = (await client.get("/api/v1/openapi.json")).json()["components"]["schemas"]["Report"]["properties"]
    leadership = report["concerns_leadership"]["description"]
    assert all(who in leadership for who in ("Compliance Officer", "CFO", "CEO", "any other officer", "any director"))
    assert report["channel"]["enum"] == ["web", "phone", "letter", "email", "meeting"]
    assert report["channel"]["default"] == "web"


async def test_identity_is_stored_but_never_returned_to_a_receipt_holder(client, installed):
    receipt = await file(client, identity={"name": "Ana Example", "contact": "+1 555 0100"})
    body = (await client.post("/api/v1/follow-up", json={"receipt": receipt})).json()
    assert "Ana Example" not in str(body)


async def test_messages_files_and_retaliation_over_the_api(client, installed):
    receipt = await file(
        client, attachments=[{"name": "contract.pdf", "content_type": "application/pdf", "data": b64(b"%PDF-1.7")}]
    )
    sent = await client.post(
        "/api/v1/follow-up/messages",
        json={
            "receipt": receipt,
            "body": "They moved me to another site.",
            "retaliation": True,
            "attachments": [{"name": "letter.txt", "data": b64(b"transfer letter")}],
        },
    )
    assert sent.status_code == 201
    body = (await client.post("/api/v1/follow-up", json={"receipt": receipt})).json()
    assert body["attachments"] == [{"name": "contract.pdf", "size": 8}]
    [message] = body["messages"]
    assert message["from"] == "reporter" and message["retaliation"] is True
    assert message["body"] == "They moved me to another site."
    assert message["attachments"] == [{"name": "letter.txt", "size": 15}]
    assert await count_rows(installed.ctx, Attachment) == 2


async def test_a_message_of_files_only_is_accepted(client):
    receipt = await file(client)
    sent = await client.post(
        "/api/v1/follow-up/messages", json={"receipt": receipt, "attachments": [{"name": "a.txt", "data": b64(b"a")}]}
    )
    assert sent.status_code == 201


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({k: v for k, v in REPORT.items() if k != "summary"}, 422, "invalid_input", "summary"),
        ({**REPORT, "category": "embezzlement"}, 422, "invalid_input", "category"),
        ({**REPORT, "summry": "typo"}, 422, "invalid_input", "summry"),
        ({**REPORT, "details": 42}, 422, "invalid_input", "details"),
        ({**REPORT, "concerns_leadership": "yes"}, 422, "invalid_input", "concerns_leadership"),
        ({**REPORT, "foreign_official_involved": "maybe"}, 422, "invalid_input", "foreign_official_involved"),
        ({**REPORT, "identity": "Ana"}, 422, "invalid_input", "identity"),
        ({**REPORT, "identity": {"name": "", "contact": ""}}, 422, "invalid_input", "identity.name"),
        ({**REPORT, "attachments": [{"name": "a", "data": "***"}]}, 422, "invalid_input", "attachments[0]"),
        ({**REPORT, "attachments": [{"name": "a", "data": b64(b"x" * (64 * 1024 + 1))}]}, 413, "too_large", "attachments"),
        ({**REPORT, "attachments": [{"name": f"{i}", "data": b64(b"x")} for i in range(4)]}, 413, "too_large", "attachments"),
    ],
    ids=[
        "missing",
        "unknown-category",
        "unknown-field",
        "not-text",
        "not-bool",
        "bad-enum",
        "bad-identity",
        "empty-identity",
        "bad-base64",
        "oversize-file",
        "too-many-files",
    ],
)
@pytest.mark.backend_agnostic
async def test_bad_reports_get_a_coded_error_naming_the_field_and_store_nothing(client, installed, body, status, code, field):
    response = await client.post("/api/v1/reports", json=body)
    assert response.status_code == status
    error = response.json()
    assert error["error"] == code and error["detail"]
    assert field in error["fields"]
    assert await count_rows(installed.ctx, Case) == 0


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [
        (b"{not json", "application/json", 400, "invalid_json"),
        (b"[1, 2]", "application/json", 400, "invalid_json"),
        (b"\xff\xfe", "application/json", 400, "invalid_json"),
        (b"category=other", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    ],
)
@pytest.mark.backend_agnostic
async def test_malformed_bodies_get_a_coded_error(client, installed, content, content_type, status, code):
    response = await client.post("/api/v1/reports", content=content, headers={"content-type": content_type})
    assert response.status_code == status
    assert response.json()["error"] == code
    assert await count_rows(installed.ctx, Case) == 0


@pytest.mark.backend_agnostic
async def test_oversize_body_is_refused_before_it_is_read(client, installed):
    limit = installed.ctx.settings.max_request_bytes
    response = await client.post("/api/v1/reports", content=b" " * (limit + 1), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"


@pytest.mark.parametrize("path", ["/api/v1/follow-up", "/api/v1/follow-up/messages"])
async def test_unknown_receipt_is_404_in_the_error_shape(client, path):
    await file(client)
    response = await client.post(
        path, json={"receipt": "7KQ4-M2XD-9PZA-HN3F", "body": "hi"} if "messages" in path else {"receipt": "7KQ4-M2XD-9PZA-HN3F"}
    )
    assert response.status_code == 404
    assert response.json() == {"error": "unknown_receipt", "detail": "No report matches this receipt. Check it and try again."}


@pytest.mark.parametrize("receipt", ["", "7KQ4-M2XD", "UUUU-UUUU-UUUU-UUUU", "7KQ4-M2XD-9PZA-HN3F-X"])
@pytest.mark.backend_agnostic
async def test_malformed_receipt_is_400(client, receipt):
    response = await client.post("/api/v1/follow-up", json={"receipt": receipt})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_receipt"


async def test_message_errors_store_nothing(client, installed):
    receipt = await file(client)
    for body in [
        {"receipt": receipt, "body": ""},
        {"receipt": receipt, "body": "x", "retaliation": "yes"},
        {"receipt": receipt, "body": "x" * 20_001},
        {"receipt": receipt, "body": "x", "cc": "me"},
    ]:
        response = await client.post("/api/v1/follow-up/messages", json=body)
        assert response.status_code == 422, body
    assert await count_rows(installed.ctx, Message) == 0


@pytest.mark.backend_agnostic
async def test_openapi_documents_every_route_and_the_error_shape(client, app):
    spec = (await client.get("/api/v1/openapi.json")).json()
    api_routes = {path for path in route_paths(app) if path.startswith("/api/") and "openapi" not in path}
    assert set(spec["paths"]) == api_routes
    assert spec["components"]["schemas"]["Error"]["required"] == ["error", "detail"]
    for path in spec["paths"].values():
        assert "receipt" not in str(list(path.get("post", {}).get("parameters", [])))  # never in a URL


@pytest.mark.backend_agnostic
async def test_unknown_api_path_and_method_answer_in_the_error_shape(client):
    missing = await client.get("/api/v1/nothing")
    assert (missing.status_code, missing.json()["error"]) == (404, "not_found")
    wrong = await client.get("/api/v1/reports")
    assert (wrong.status_code, wrong.json()["error"]) == (405, "method_not_allowed")


async def test_routing_of_api_reports_follows_the_leadership_flag(client, installed):
    await file(client, concerns_leadership=True)
    async with installed.ctx.sessions() as session:
        case = await session.scalar(select(Case))
    assert case.routing == "audit_committee"


# Bounds: every field is bounded before any work is done on it.

RECEIPT_TEXT = "7KQ4-M2XD-9PZA-HN3F"

# Each of these could be a receipt but for its length: 16 symbols padded past the 64 characters
# any receipt can take, up to 400 KB (a JSON body that still fits the message route, with a file).
TOO_LONG = [RECEIPT_TEXT + " " * 46, RECEIPT_TEXT + " " * 400_000]


class Spy:
    """Counts calls to a function and the threads they ran in, then calls it."""

    def __init__(self, function) -> None:
        self.function, self.threads = function, []

    def __call__(self, *args, **kwargs):
        self.threads.append(threading.get_ident())
        return self.function(*args, **kwargs)


@pytest.fixture
def spies(installed, monkeypatch) -> dict[str, Spy]:
    """Spies on receipt normalising, Argon2id, JSON parsing and base64 decoding, as the app calls them."""
    found = {
        "normalise": Spy(receipts.normalise),
        "argon2id": Spy(installed.ctx.kdf.receipt),
        "json": Spy(json.loads),
        "base64": Spy(base64.b64decode),
    }
    monkeypatch.setattr(receipts, "normalise", found["normalise"])
    monkeypatch.setattr(installed.ctx.kdf, "receipt", found["argon2id"])
    # The web layer's own references, so the test's own json and base64 go unseen.
    monkeypatch.setattr(bodies, "json", SimpleNamespace(loads=found["json"]))
    monkeypatch.setattr(bodies, "base64", SimpleNamespace(b64decode=found["base64"]))
    return found


@pytest.mark.parametrize("receipt", TOO_LONG, ids=["65-characters", "400-kB"])
@pytest.mark.parametrize(
    ("path", "extra"),
    [
        ("/api/v1/follow-up", {}),
        ("/api/v1/follow-up/messages", {"body": "hi", "attachments": [{"name": "a.txt", "data": b64(b"x" * 30_000)}]}),
        ("/api/v1/follow-up/check-ins", {"check_in": 1, "retaliation": True}),
        ("/api/v1/follow-up/minutes", {"minutes": 1, "answer": "corrected", "correction": "x" * 100_000}),
    ],
    ids=["follow-up", "message-with-a-file", "check-in", "minutes"],
)
async def test_a_receipt_longer_than_any_receipt_is_refused_at_once(client, installed, spies, path, extra, receipt):
    response = await client.post(path, json={"receipt": receipt, **extra})
    if len(receipt) > 4096 and not path.endswith(("messages", "minutes")):
        # A route that reads a receipt and nothing large (no message, no correction): the body is refused before it is parsed.
        assert (response.status_code, response.json()["error"]) == (413, "too_large")
        assert spies["json"].threads == []
    else:
        assert (response.status_code, response.json()["error"]) == (400, "invalid_receipt")
    # No Argon2id, no normalising, no file decoded.
    assert spies["normalise"].threads == spies["argon2id"].threads == spies["base64"].threads == []
    assert await count_rows(installed.ctx, Message) == 0


@pytest.mark.backend_agnostic
async def test_a_receipt_longer_than_any_receipt_is_refused_on_the_page_too(client, spies):
    page = await client.get("/follow-up")
    response = await client.post("/follow-up", data={"receipt": TOO_LONG[1], "csrf_token": csrf_from(page.text)})
    assert response.status_code == 400 and "A receipt is 16 letters and digits" in response.text
    assert TOO_LONG[1] not in response.text  # not echoed back into the form
    assert spies["normalise"].threads == spies["argon2id"].threads == []
    # A form without files (this one) is refused past 1 MB, before it is all read.
    bigger = await client.post(
        "/follow-up", data={"receipt": "x" * (MAX_URLENCODED_BYTES + 1), "csrf_token": csrf_from(page.text)}
    )
    assert bigger.status_code == 413


def nested(depth: int) -> bytes:
    return b'{"category": "other", "summary": "s", "details": "d", "people": ' + b"[" * depth + b"]" * depth + b"}"


HR = {"authorization": "Bearer test-hr-token-0f9e"}
# Past the limit of a body without files, and past the number of values any body needs.
LONG_TEXT = "x" * (JSON_TEXT_BYTES + 1)
MANY_VALUES = b'{"category": "other", "summary": "s", "details": "d", "people": [' + b"0," * MAX_JSON_VALUES + b"0]}"


@pytest.mark.parametrize(
    ("path", "content", "status", "code", "parsed"),
    [
        ("/api/v1/follow-up", json.dumps({"receipt": "x" * 5000}).encode(), 413, "too_large", False),
        ("/api/v1/follow-up/check-ins", json.dumps({"receipt": "x", "check_in": [0] * 3000}).encode(), 413, "too_large", False),
        ("/api/v1/reports", json.dumps({**REPORT, "details": LONG_TEXT}).encode(), 413, "too_large", False),
        ("/api/v1/follow-up/messages", json.dumps({"receipt": "x", "body": LONG_TEXT}).encode(), 413, "too_large", False),
        # Saying "attachments" and sending none does not lift the limit.
        (
            "/api/v1/follow-up/messages",
            json.dumps({"receipt": "x", "body": LONG_TEXT, "attachments": []}).encode(),
            413,
            "too_large",
            True,
        ),
        ("/api/v1/reports", MANY_VALUES, 400, "invalid_json", False),
        ("/api/v1/reports", nested(100_000), 400, "invalid_json", False),
        ("/api/v1/reports", nested(5_000), 400, "invalid_json", True),  # Python's own recursion limit
        ("/api/v1/reports", nested(30), 400, "invalid_json", True),  # nesting no body of ours has
        (
            "/api/v1/hr/adverse-actions",
            b'{"actions": [' + b'{"a": ' * 3_000 + b"1" + b"}" * 3_000 + b"]}",
            400,
            "invalid_json",
            True,
        ),
        # A lone surrogate is valid JSON but no text: it cannot be sealed or stored.
        ("/api/v1/reports", b'{"category": "other", "summary": "\\ud800", "details": "d"}', 400, "invalid_json", True),
        ("/api/v1/follow-up", b'{"receipt": "\\udfff"}', 400, "invalid_json", True),
        ("/api/v1/follow-up", b'{"receipt": "7KQ4-M2XD-9PZA-HN3F", "\\ud800": 1}', 400, "invalid_json", True),
        ("/api/v1/reports", b'{"category": "other", "summary": "\xff", "details": "d"}', 400, "invalid_json", True),
        (
            "/api/v1/reports",
            b'{"category": "other", "summary": "s", "details": "d", "amount": ' + b"9" * 5000 + b"}",
            400,
            "invalid_json",
            True,
        ),
        (
            "/api/v1/hr/adverse-actions",
            json.dumps({"actions": [{"employee_id": "E", "action": "demotion", "date": "2026-01-01"}] * 10_001}).encode(),
            413,
            "too_large",
            True,
        ),
    ],
    ids=[
        "follow-up-5-kB",
        "check-in-array",
        "report-text-past-the-limit",
        "message-text-past-the-limit",
        "message-empty-attachments",
        "65k-values",
        "nested-100k",
        "nested-5k",
        "nested-30",
        "hr-nested-3k",
        "lone-surrogate-text",
        "lone-surrogate-receipt",
        "lone-surrogate-key",
        "invalid-utf-8",
        "5000-digit-number",
        "hr-10001-actions",
    ],
)
@pytest.mark.backend_agnostic
async def test_json_bodies_are_bounded_and_never_answer_500(client, installed, spies, path, content, status, code, parsed):
    headers = {"content-type": "application/json", **(HR if "/hr/" in path else {})}
    response = await client.post(path, content=content, headers=headers)
    assert (response.status_code, response.json()["error"]) == (status, code), response.text
    assert bool(spies["json"].threads) == parsed  # refused unparsed where the size alone says enough
    assert spies["argon2id"].threads == []
    assert await count_rows(installed.ctx, Case) == 0


@pytest.mark.backend_agnostic
async def test_the_hr_api_takes_json_only(client):
    response = await client.post("/api/v1/hr/adverse-actions", content=b'{"actions": []}', headers=HR)
    assert (response.status_code, response.json()["error"]) == (415, "unsupported_media_type")


async def test_large_bodies_are_parsed_and_files_decoded_off_the_event_loop(client, installed, spies):
    loop_thread = threading.get_ident()  # the tests' event loop, where the app runs too
    big, small = b"x" * 60_000, b"y" * 100
    receipt = await file(client, attachments=[{"name": "big.bin", "data": b64(big)}])
    sent = await client.post(
        "/api/v1/follow-up/messages",
        json={"receipt": receipt, "body": "hi", "attachments": [{"name": "small.bin", "data": b64(small)}]},
    )
    assert sent.status_code == 201
    # The report's body (80 kB) and its file went to a worker thread; the small message stayed on the loop.
    report_parse, message_parse = spies["json"].threads[0], spies["json"].threads[-1]
    report_decode, message_decode = spies["base64"].threads[0], spies["base64"].threads[-1]
    assert report_parse != loop_thread and report_decode != loop_thread
    assert message_parse == loop_thread and message_decode == loop_thread
    body = (await client.post("/api/v1/follow-up", json={"receipt": receipt})).json()
    assert body["attachments"] == [{"name": "big.bin", "size": len(big)}]


@pytest.mark.parametrize("check_in", [10**25, 2**31, 0, -1, 1.5, 1e300, True, "12", "١٢", None])
async def test_a_check_in_id_out_of_any_range_is_a_422(client, installed, check_in):
    receipt = await file(client)
    response = await client.post(
        "/api/v1/follow-up/check-ins", json={"receipt": receipt, "check_in": check_in, "retaliation": True}
    )
    assert (response.status_code, response.json()["error"]) == (422, "invalid_input")
    assert "check_in" in response.json()["fields"]
