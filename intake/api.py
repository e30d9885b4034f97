"""The JSON intake API, for hotline operators typing in reports taken by phone or letter.

Same functions of ``cases`` as the pages. The receipt travels in request
bodies only, never in a URL, so no proxy or server log can hold one.
Errors are ``{"error": code, "detail": text[, "fields": {...}]}`` (``web/handlers.py``).
"""

from dataclasses import asdict
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cases.errors import InvalidInput, InvalidReceipt
from cases.filing import file_report, parse_report
from cases.follow_up import AttachmentInfo, Mailbox, read_mailbox, send_reporter_message
from cases.follow_up import answer_check_in as mailbox_answer_check_in
from cases.follow_up import answer_minutes as mailbox_answer_minutes
from crypto.receipts import MAX_TYPED
from web.bodies import JSON_TEXT_BYTES, json_id, json_uploads, read_json

from .openapi import SPEC


def _only(data: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidInput(fields={name: "Unknown field." for name in unknown})


def _receipt(data: dict[str, Any]) -> str:
    """The receipt, checked first: one longer than any receipt is refused before anything else is done."""
    receipt = data.get("receipt")
    if not isinstance(receipt, str):
        raise InvalidInput(fields={"receipt": "Give the receipt as text."})
    if len(receipt) > MAX_TYPED:
        raise InvalidReceipt()
    return receipt


def _files(infos: list[AttachmentInfo]) -> list[dict]:
    return [{"name": info.name, "size": info.size} for info in infos]


def _day(value) -> str | None:
    return value.isoformat() if value else None


def _mailbox_json(mailbox: Mailbox) -> dict:
    return {
        "status": mailbox.status,
        "routing": mailbox.routing,
        "closed_on": _day(mailbox.closed_on),
        "feedback_given_on": _day(mailbox.feedback_given_on),
        "received_on": mailbox.received_on.isoformat(),
        "acknowledged_on": mailbox.acknowledged_on.isoformat() if mailbox.acknowledged_on else None,
        "acknowledge_by": mailbox.acknowledge_by.isoformat(),
        "feedback_by": mailbox.feedback_by.isoformat(),
        "report": asdict(mailbox.report),
        "attachments": _files(mailbox.attachments),
        "check_ins": [{"id": c.id, "days_after_closure": c.days_after_closure} for c in mailbox.check_ins],
        "minutes": [
            {
                "number": m.number,
                "kind": m.kind,
                "held_on": m.held_on.isoformat(),
                "text": m.text,
                "answer": m.answer,
                "answered_on": _day(m.answered_on),
                "correction": m.correction,
            }
            for m in mailbox.minutes
        ],
        "messages": [
            {
                "from": m.sender,
                "body": m.body,
                "sent_on": m.sent_on.isoformat(),
                "retaliation": m.retaliation,
                "attachments": _files(m.attachments),
            }
            for m in mailbox.messages
        ],
    }


async def create_report(request: Request) -> Response:
    ctx = request.app.state.ctx
    data = await read_json(request, limit=JSON_TEXT_BYTES, attachments=True)
    attachments = data.pop("attachments", None)
    draft = parse_report(data)  # the text first: it costs nothing to check
    uploads = await json_uploads(attachments, ctx.settings)
    async with ctx.sessions() as session:
        receipt = await file_report(session, ctx, draft, uploads, ctx.today())
    return JSONResponse({"receipt": receipt}, status_code=201)


async def follow_up(request: Request) -> Response:
    ctx = request.app.state.ctx
    data = await read_json(request)
    _only(data, {"receipt"})
    receipt = _receipt(data)
    async with ctx.sessions() as session:
        mailbox = await read_mailbox(session, ctx, receipt)
    return JSONResponse(_mailbox_json(mailbox))


async def create_message(request: Request) -> Response:
    ctx = request.app.state.ctx
    data = await read_json(request, limit=JSON_TEXT_BYTES, attachments=True)
    _only(data, {"receipt", "body", "retaliation", "attachments"})
    receipt = _receipt(data)
    retaliation = data.get("retaliation", False)
    if not isinstance(retaliation, bool):
        raise InvalidInput(fields={"retaliation": "Must be true or false."})
    uploads = await json_uploads(data.get("attachments"), ctx.settings)
    async with ctx.sessions() as session:
        # An operator's tool: what the reporter dictates is sent, with no warning to confirm (the pages ask).
        await send_reporter_message(
            session,
            ctx,
            receipt,
            data.get("body", ""),
            retaliation=retaliation,
            uploads=uploads,
            today=ctx.today(),
            send_anyway=True,
        )
    return JSONResponse({"sent": True}, status_code=201)


async def openapi(request: Request) -> Response:
    return JSONResponse(SPEC)


async def answer_check_in(request: Request) -> Response:
    ctx = request.app.state.ctx
    data = await read_json(request)
    _only(data, {"receipt", "check_in", "retaliation"})
    receipt = _receipt(data)
    check_in, retaliation = json_id(data.get("check_in")), data.get("retaliation")
    if check_in is None or not isinstance(retaliation, bool):
        raise InvalidInput(fields={"check_in": "Give the check-in id and retaliation true or false."})
    async with ctx.sessions() as session:
        await mailbox_answer_check_in(session, ctx, receipt, check_in, retaliation, ctx.today())
    return JSONResponse({"answered": True}, status_code=201)


async def answer_minutes(request: Request) -> Response:
    ctx = request.app.state.ctx
    data = await read_json(request, limit=JSON_TEXT_BYTES)  # a correction may be long
    _only(data, {"receipt", "minutes", "answer", "correction"})
    receipt = _receipt(data)
    number = json_id(data.get("minutes"))
    if number is None:
        raise InvalidInput(fields={"minutes": "Give the number of the minutes."})
    answer, correction = data.get("answer"), data.get("correction", "")
    if not isinstance(answer, str) or not isinstance(correction, str):
        raise InvalidInput(fields={"answer": "Give the answer and any correction as text."})
    async with ctx.sessions() as session:
        await mailbox_answer_minutes(session, ctx, receipt, number, answer, correction, ctx.today())
    return JSONResponse({"answered": True}, status_code=201)
