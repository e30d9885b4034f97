"""The JSON intake API for hotline operators."""

import base64

import pytest
from sqlalchemy import select

from cases.models import Attachment, Case, Message
from tests.conftest import RECEIPT, count_rows, route_paths

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
    assert body["messages"] == []


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
