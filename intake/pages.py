"""The reporter's pages. Every page works without JavaScript.

Handlers parse, call one function of ``cases``, and render. When input is
bad, the form comes back with everything typed and a message per field; only
files need choosing again (browsers never re-send them).
"""

from starlette.requests import Request
from starlette.responses import Response

from cases.content import describe_size
from cases.errors import InvalidInput, InvalidReceipt, SpeakupError, TooLarge, UnknownReceipt
from cases.filing import TEXT_FIELDS, file_report, parse_report
from cases.follow_up import answer_check_in as mailbox_answer_check_in
from cases.follow_up import read_mailbox, send_reporter_message
from cases.kdf_pool import Busy
from crypto.receipts import MAX_TYPED
from web.bodies import SubmittedForm, as_id, check_oversize, read_form
from web.csrf import CSRF_FIELD, check_cross_site, check_csrf
from web.errors import CsrfFailed
from web.render import render

HONEYPOT = "website"
# Answered with the receipt form again, and what was wrong.
RECEIPT_PROBLEMS = (InvalidReceipt, UnknownReceipt, Busy)


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
        async with ctx.sessions() as session:
            receipt = await file_report(session, ctx, draft, form.uploads, ctx.today())
    except (InvalidInput, TooLarge, CsrfFailed) as error:
        return _report_page(request, form.fields, error)
    # file_report returned, so the case is committed: only now may the receipt be shown.
    return render(request, "intake/receipt.html", {"receipt": receipt})


def _login_page(request: Request, receipt: str = "", error: SpeakupError | None = None, unsent: str = "") -> Response:
    # What was typed comes back to be corrected, unless it is too long to be a receipt at all;
    # and a message that could not be sent (the server was busy, say) is shown to be sent again.
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


async def follow_up_form(request: Request) -> Response:
    return _login_page(request)


async def _mailbox_page(request: Request, receipt: str, *, notice=None, values=None, error=None) -> Response:
    ctx = request.app.state.ctx
    try:
        async with ctx.sessions() as session:
            mailbox = await read_mailbox(session, ctx, receipt)
    except RECEIPT_PROBLEMS as problem:
        return _login_page(request, receipt, problem)
    context = {
        **_limits(request),
        "mailbox": mailbox,
        "receipt": receipt,
        "notice": notice,
        "values": values or {},
        "errors": error.fields if error else {},
        "problem": error.detail if error else None,
    }
    return render(request, "intake/follow_up.html", context, status_code=error.status if error else 200)


async def follow_up(request: Request) -> Response:
    check_cross_site(request)
    form = await read_form(request, request.app.state.ctx.settings)
    try:
        check_csrf(request, form.get(CSRF_FIELD))
    except CsrfFailed as error:
        return _login_page(request, form.get("receipt"), error)
    return await _mailbox_page(request, form.get("receipt"))


async def send_message(request: Request) -> Response:
    ctx = request.app.state.ctx
    check_cross_site(request)
    form = await read_form(request, ctx.settings)
    receipt = form.get("receipt")
    try:
        check_csrf(request, form.get(CSRF_FIELD))
        check_oversize(form, ctx.settings)
        async with ctx.sessions() as session:
            await send_reporter_message(
                session,
                ctx,
                receipt,
                form.get("body"),
                retaliation=form.get("retaliation") == "yes",
                uploads=form.uploads,
                today=ctx.today(),
            )
    except RECEIPT_PROBLEMS as error:
        return _login_page(request, receipt, error, unsent=form.get("body") or "")
    except (InvalidInput, TooLarge, CsrfFailed) as error:
        return await _mailbox_page(request, receipt, values=form.fields, error=error)
    return await _mailbox_page(request, receipt, notice="Your message was sent.")


async def answer_check_in(request: Request) -> Response:
    ctx = request.app.state.ctx
    check_cross_site(request)
    form = await read_form(request, ctx.settings)
    receipt = form.get("receipt")
    try:
        check_csrf(request, form.get(CSRF_FIELD))
        check_in = as_id(form.get("check_in"))
        if check_in is None or form.get("answer") not in {"yes", "no"}:
            raise InvalidInput("Choose yes or no.")
        async with ctx.sessions() as session:
            await mailbox_answer_check_in(session, ctx, receipt, check_in, form.get("answer") == "yes", ctx.today())
    except RECEIPT_PROBLEMS as error:
        return _login_page(request, receipt, error)
    except (InvalidInput, CsrfFailed) as error:
        return await _mailbox_page(request, receipt, error=error)
    return await _mailbox_page(request, receipt, notice="Thank you for answering.")
