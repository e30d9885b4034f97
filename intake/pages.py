"""The reporter's pages. Every page works without JavaScript.

Handlers parse, call one function of ``cases``, and render. When input is
bad, the form comes back with everything typed and a message per field; only
files need choosing again (browsers never re-send them).

Post/redirect/get: a form that succeeds answers with a redirect to a page, so
reloading that page repeats a GET, never the act. The receipt never goes in a
URL: the receipt page gets it in a short-lived sealed cookie it reads once and
clears, and the follow-up pages get the keys it derived in the reporter's
session cookie (cases/reporter_session.py), sealed, renewed by each page, gone
with the browser or after 30 idle minutes, and stored nowhere on the server.
"""

import hmac
from dataclasses import replace

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from cases.content import describe_size
from cases.errors import InvalidInput, InvalidReceipt, NeedsConfirmation, SpeakupError, TooLarge, UnknownReceipt
from cases.filing import TEXT_FIELDS, check_details_length, file_report, parse_report
from cases.follow_up import answer_check_in as mailbox_answer_check_in
from cases.follow_up import answer_minutes as mailbox_answer_minutes
from cases.follow_up import message_digest, open_mailbox, read_mailbox, send_reporter_message
from cases.kdf_pool import Busy
from cases.reporter_session import Session, case_tag, open_receipt, open_session, seal_receipt, seal_session
from crypto.receipts import MAX_TYPED
from web.bodies import SubmittedForm, as_id, check_oversize, read_form
from web.csrf import CSRF_FIELD, check_cross_site, check_csrf
from web.errors import CsrfFailed
from web.render import render

HONEYPOT = "website"
# Answered with the receipt form again, and what was wrong.
RECEIPT_PROBLEMS = (InvalidReceipt, UnknownReceipt, Busy)
# The second press of a form that came back with a warning (cases.errors.NeedsConfirmation).
SEND_ANYWAY = "send_anyway"
# What the follow-up page says once after a redirect, by the key its session carries.
NOTICES = {
    "sent": "Your message was sent.",
    "sent-already": "You sent this message already; it was not sent a second time.",
    "answered": "Thank you for answering.",
    "minutes": "Thank you: your answer to the minutes is kept with them.",
}


def _cookie(request: Request, name: str) -> str:
    # __Host-: Secure, whole site, no Domain: a sibling host can neither set nor read it.
    return f"__Host-speakup-{name}" if request.app.state.ctx.settings.secure_cookies else f"speakup-{name}"


def _set_cookie(request: Request, response: Response, name: str, value: str) -> None:
    """A session cookie (no Max-Age or Expires: it dies with the browser); its value is sealed."""
    response.set_cookie(
        _cookie(request, name),
        value,
        path="/",
        secure=request.app.state.ctx.settings.secure_cookies,
        httponly=True,
        samesite="strict",
    )


def _clear_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(
        _cookie(request, name), path="/", secure=request.app.state.ctx.settings.secure_cookies, httponly=True, samesite="strict"
    )


async def _session_key(request: Request) -> bytes:
    return (await request.app.state.ctx.installation()).session_key


def _limits(request: Request) -> dict:
    settings = request.app.state.ctx.settings
    return {
        "max_attachments": settings.max_attachments,
        "max_attachment_size": describe_size(settings.max_attachment_bytes),
        "acknowledge_days": settings.acknowledge_days,
        "feedback_months": settings.feedback_months,
    }


async def index(request: Request) -> Response:
    return render(request, "intake/index.html", _limits(request))


def _report_page(request: Request, values: dict, error: SpeakupError | None = None) -> Response:
    context = {
        **_limits(request),
        "limits": TEXT_FIELDS,
        "values": values,
        "errors": error.fields if error else {},
        "problem": error.detail if error else None,
        "warning": isinstance(error, NeedsConfirmation),
    }
    return render(request, "intake/report.html", context, status_code=error.status if error else 200)


async def report_form(request: Request) -> Response:
    return _report_page(request, {})


def _report_data(form: SubmittedForm) -> dict[str, object]:
    """The form's fields in the shape of the API's JSON body."""
    data: dict[str, object] = {name: form.get(name) for name in TEXT_FIELDS}
    data["category"] = form.get("category") or None
    data["foreign_official_involved"] = form.get("foreign_official_involved") or "unknown"
    data["concerns_leadership"] = form.get("concerns_leadership") == "yes"
    if form.get("anonymity") == "confidential":
        data["identity"] = {"name": form.get("name"), "contact": form.get("contact")}
    return data


async def submit_report(request: Request) -> Response:
    ctx = request.app.state.ctx
    check_cross_site(request)
    form = await read_form(request, ctx.settings)
    try:
        check_csrf(request, form.get(CSRF_FIELD))
        errors: dict[str, str] = {}
        status = 422
        if form.get(HONEYPOT):
            errors[HONEYPOT] = "Leave this field empty."
        try:
            check_oversize(form, ctx.settings)
        except TooLarge as error:
            errors.update(error.fields)
            status = error.status
        try:
            draft = parse_report(_report_data(form))
        except InvalidInput as error:
            errors.update(error.fields)
        if errors:
            raise InvalidInput(fields=errors) if status == 422 else TooLarge(fields=errors)
        if form.get(SEND_ANYWAY) != "yes":
            check_details_length(draft)
        async with ctx.sessions() as session:
            receipt = await file_report(session, ctx, draft, form.uploads, ctx.today())
    except (InvalidInput, TooLarge, CsrfFailed) as error:
        return _report_page(request, form.fields, error)
    # file_report returned, so the case is committed: only now may the receipt be shown, on a page
    # of its own (a reload there files nothing), which reads it from a cookie, never from the URL.
    response = RedirectResponse(request.url_for("intake:receipt").path, status_code=303)
    _set_cookie(request, response, "receipt", seal_receipt(await _session_key(request), receipt, ctx.now()))
    return response


async def receipt_page(request: Request) -> Response:
    """The receipt, once: the cookie that carried it is cleared by this very answer. Shown again
    (a reload, the Back button), the page says it was shown once, and files nothing."""
    token = request.cookies.get(_cookie(request, "receipt"))
    receipt = open_receipt(await _session_key(request), token, request.app.state.ctx.now()) if token else None
    response = render(request, "intake/receipt.html", {"receipt": receipt})
    if token is not None:
        _clear_cookie(request, response, "receipt")
    return response


def _login_page(request: Request, receipt: str = "", error: SpeakupError | None = None, unsent: str = "") -> Response:
    # What was typed comes back to be corrected, unless it is too long to be a receipt at all;
    # and a message that could not be sent (the session had ended, say) is shown to be sent again.
    page = render(
        request,
        "intake/follow_up_login.html",
        {
            "receipt": receipt if len(receipt) <= MAX_TYPED else "",
            "problem": error.detail if error else None,
            "unsent": unsent,
        },
        status_code=error.status if error else 200,
    )
    if error is not None and error.retry_after:
        page.headers["retry-after"] = str(error.retry_after)
    return page


async def _session(request: Request) -> Session | None:
    """The reporter's session, if the browser holds one that opens and has not expired."""
    token = request.cookies.get(_cookie(request, "mailbox"))
    if not token:
        return None
    return open_session(await _session_key(request), token, request.app.state.ctx.now())


def _no_session(request: Request, unsent: str = "") -> Response:
    """The receipt form, when the session cookie is missing, bad, tampered with or expired: nothing
    says which (any of them means the same to the reporter: enter the receipt again)."""
    page = _login_page(request, unsent=unsent)
    if _cookie(request, "mailbox") in request.cookies:
        _clear_cookie(request, page, "mailbox")
    return page


async def _with_session(request: Request, response: Response, session: Session) -> Response:
    _set_cookie(request, response, "mailbox", seal_session(await _session_key(request), session, request.app.state.ctx.now()))
    return response


async def _to_mailbox(request: Request, session: Session) -> Response:
    """The redirect after a form that succeeded: to the mailbox page, the session renewed."""
    return await _with_session(request, RedirectResponse(request.url_for("intake:follow_up").path, status_code=303), session)


async def follow_up_form(request: Request) -> Response:
    """The mailbox when the browser holds a session; the receipt form otherwise."""
    session = await _session(request)
    if session is None:
        return _no_session(request)
    return await _mailbox_page(request, session)


async def _mailbox_page(
    request: Request, session: Session, *, values: dict | None = None, error: SpeakupError | None = None
) -> Response:
    ctx = request.app.state.ctx
    try:
        async with ctx.sessions() as db:
            mailbox = await read_mailbox(db, ctx, session.keys)
    except UnknownReceipt:  # the case is gone (its retention ended) since the receipt was entered
        return _no_session(request)
    context = {
        **_limits(request),
        "mailbox": mailbox,
        "case_tag": case_tag(await _session_key(request), session.keys),
        "notice": NOTICES.get(session.notice),
        "values": values or {},
        "errors": error.fields if error else {},
        "problem": error.detail if error else None,
        "warning": isinstance(error, NeedsConfirmation),
    }
    page = render(request, "intake/follow_up.html", context, status_code=error.status if error else 200)
    # Each page renews the session for another 30 minutes; a notice is said once.
    return await _with_session(request, page, replace(session, notice=""))


async def _check_case(request: Request, session: Session, form) -> None:
    """``InvalidInput`` unless the form was sent from the page of the report this session has open now."""
    if not hmac.compare_digest(str(form.get("case") or ""), case_tag(await _session_key(request), session.keys)):
        raise InvalidInput(
            "That page belonged to another report you have opened since. Nothing was sent: this is the report open now."
        )


async def follow_up(request: Request) -> Response:
    """The receipt, entered: derive its keys once, keep them in the session, and go to the mailbox."""
    ctx = request.app.state.ctx
    check_cross_site(request)
    form = await read_form(request, ctx.settings)
    try:
        check_csrf(request, form.get(CSRF_FIELD))
    except CsrfFailed as error:
        return _login_page(request, form.get("receipt"), error)
    try:
        async with ctx.sessions() as session:
            keys = await open_mailbox(session, ctx, form.get("receipt"))
    except RECEIPT_PROBLEMS as problem:
        return _login_page(request, form.get("receipt"), problem)
    return await _to_mailbox(request, Session(keys))


async def leave(request: Request) -> Response:
    """End the session: the cookie is cleared, and the receipt is needed to come back."""
    check_cross_site(request)
    response = RedirectResponse(request.url_for("intake:index").path, status_code=303)
    _clear_cookie(request, response, "mailbox")
    return response


async def send_message(request: Request) -> Response:
    ctx = request.app.state.ctx
    check_cross_site(request)
    form = await read_form(request, ctx.settings)
    session = await _session(request)
    if session is None:  # the message is shown to be copied, and sent once the receipt is entered again
        return _no_session(request, unsent=form.get("body"))
    retaliation = form.get("retaliation") == "yes"
    try:
        check_csrf(request, form.get(CSRF_FIELD))
        await _check_case(request, session, form)
        check_oversize(form, ctx.settings)
        sent = message_digest(form.get("body"), retaliation, form.uploads)
        if sent == session.last_sent:  # this very message, sent again (Back, then Send): not twice
            return await _to_mailbox(request, replace(session, notice="sent-already"))
        async with ctx.sessions() as db:
            await send_reporter_message(
                db,
                ctx,
                session.keys,
                form.get("body"),
                retaliation=retaliation,
                uploads=form.uploads,
                today=ctx.today(),
                send_anyway=form.get(SEND_ANYWAY) == "yes",
            )
    except UnknownReceipt:
        return _no_session(request, unsent=form.get("body"))
    except (InvalidInput, TooLarge, CsrfFailed) as error:
        return await _mailbox_page(request, session, values=form.fields, error=error)
    return await _to_mailbox(request, replace(session, last_sent=sent, notice="sent"))


async def answer_check_in(request: Request) -> Response:
    ctx = request.app.state.ctx
    check_cross_site(request)
    form = await read_form(request, ctx.settings)
    session = await _session(request)
    if session is None:
        return _no_session(request)
    try:
        check_csrf(request, form.get(CSRF_FIELD))
        await _check_case(request, session, form)
        check_in = as_id(form.get("check_in"))
        if check_in is None or form.get("answer") not in {"yes", "no"}:
            raise InvalidInput("Choose yes or no.")
        async with ctx.sessions() as db:
            await mailbox_answer_check_in(db, ctx, session.keys, check_in, form.get("answer") == "yes", ctx.today())
    except UnknownReceipt:
        return _no_session(request)
    except (InvalidInput, CsrfFailed) as error:
        return await _mailbox_page(request, session, error=error)
    return await _to_mailbox(request, replace(session, notice="answered"))


async def answer_minutes(request: Request) -> Response:
    ctx = request.app.state.ctx
    check_cross_site(request)
    form = await read_form(request, ctx.settings)
    session = await _session(request)
    if session is None:
        return _no_session(request, unsent=form.get("correction"))
    try:
        check_csrf(request, form.get(CSRF_FIELD))
        await _check_case(request, session, form)
        number = as_id(form.get("number"))
        if number is None:
            raise InvalidInput(fields={"minutes": "These minutes are not in your report."})
        async with ctx.sessions() as db:
            await mailbox_answer_minutes(db, ctx, session.keys, number, form.get("answer"), form.get("correction"), ctx.today())
    except UnknownReceipt:
        return _no_session(request, unsent=form.get("correction"))
    except (InvalidInput, CsrfFailed) as error:
        return await _mailbox_page(request, session, values=form.fields, error=error)
    return await _to_mailbox(request, replace(session, notice="minutes"))
