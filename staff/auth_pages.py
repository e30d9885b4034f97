"""Log in (password and TOTP), enrol a second factor, log out, change password."""

import base64
import io

import qrcode
import qrcode.image.svg
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from cases import auth
from cases.accounts import set_digest
from cases.errors import InvalidInput, SpeakupError
from cases.identity import Identity
from web.bodies import read_small_form
from web.csrf import CSRF_FIELD, check_csrf
from web.render import render

from .guard import staff_page
from .session import clear_session_cookie, device_cookie, now, session_cookie, set_device_cookie, set_session_cookie


def _redirect(request: Request, name: str) -> RedirectResponse:
    return RedirectResponse(request.url_for(name).path, status_code=303)


# What the login page says after a redirect to it (post/redirect/get): the name only is in the URL.
LOGIN_NOTICES = {"password": "Password changed. Log in again."}


async def login_form(request: Request) -> Response:
    return render(request, "staff/login.html", {"email": "", "notice": LOGIN_NOTICES.get(request.query_params.get("done", ""))})


async def login(request: Request) -> Response:
    ctx = request.app.state.ctx
    form = await read_small_form(request)
    email = str(form.get("email", ""))
    try:
        check_csrf(request, form.get(CSRF_FIELD))
        async with ctx.sessions() as session:
            logged_in = await auth.login(
                session,
                ctx,
                email,
                str(form.get("password", "")),
                str(form.get("code", "")),
                now(request),
                previous_cookie=session_cookie(request),
                device_cookie=device_cookie(request),
            )
    except SpeakupError as error:
        page = render(request, "staff/login.html", {"email": email, "problem": error.detail}, status_code=error.status)
        if error.retry_after:
            page.headers["retry-after"] = str(error.retry_after)
        return page
    # A new session id at every login: a cookie planted before login is worth nothing after it.
    response = _redirect(request, "staff:enrol" if logged_in.state == "enrolling" else "staff:cases")
    set_session_cookie(request, response, logged_in.cookie)
    if logged_in.device:
        set_device_cookie(request, response, logged_in.device)
    return response


def _qr_svg(uri: str) -> str:
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


async def _enrolment_page(request: Request, problem: str | None = None, status_code: int = 200) -> Response:
    ctx = request.app.state.ctx
    async with ctx.sessions() as session:
        enrolment = await auth.current_enrolment(session, session_cookie(request), now(request))
    if enrolment is None:
        return _redirect(request, "staff:login")
    uri = auth.totp_uri(enrolment.totp_secret, enrolment.staff.email, ctx.settings.organisation)
    secret = " ".join(enrolment.totp_secret[i : i + 4] for i in range(0, len(enrolment.totp_secret), 4))
    context = {"secret": secret, "qr": _qr_svg(uri), "email": enrolment.staff.email, "problem": problem}
    return render(request, "staff/enrol.html", context, status_code=status_code)


async def enrol_form(request: Request) -> Response:
    return await _enrolment_page(request)


async def enrol(request: Request) -> Response:
    ctx = request.app.state.ctx
    form = await read_small_form(request)
    try:
        check_csrf(request, form.get(CSRF_FIELD))
        async with ctx.sessions() as session:
            logged_in = await auth.confirm_enrolment(
                session, session_cookie(request) or "", str(form.get("code", "")), now(request)
            )
    except InvalidInput as error:
        return await _enrolment_page(request, error.fields.get("code", error.detail), error.status)
    response = _redirect(request, "staff:cases")
    set_session_cookie(request, response, logged_in.cookie)
    if logged_in.device:
        set_device_cookie(request, response, logged_in.device)
    return response


async def logout(request: Request) -> Response:
    ctx = request.app.state.ctx
    form = await read_small_form(request)
    check_csrf(request, form.get(CSRF_FIELD))
    async with ctx.sessions() as session:
        await auth.logout(session, session_cookie(request), now(request))
    response = _redirect(request, "staff:login")
    clear_session_cookie(request, response)
    return response


@staff_page
async def digest(request: Request, me: Identity, form: FormData | None) -> Response:
    """Turn one's own daily digest mail on or off."""
    async with request.app.state.ctx.sessions() as session:
        await set_digest(session, me, form is not None and form.get("digest") == "on")
    return _redirect(request, "staff:password")


@staff_page
async def password(request: Request, me: Identity, form: FormData | None) -> Response:
    if form is None:
        return render(request, "staff/password.html", {"me": me.staff, "errors": {}})
    ctx = request.app.state.ctx
    new = str(form.get("new_password", ""))
    try:
        if new != form.get("repeat_password"):
            raise InvalidInput(fields={"repeat_password": "The two new passwords differ."})
        async with ctx.sessions() as session:
            await auth.change_password(session, ctx, me, str(form.get("current_password", "")), new, now(request))
    except InvalidInput as error:
        return render(request, "staff/password.html", {"me": me.staff, "errors": error.fields}, status_code=error.status)
    # Every session has ended, this one too: log in again with the new password.
    response = RedirectResponse(request.url_for("staff:login").path + "?done=password", status_code=303)
    clear_session_cookie(request, response)
    return response
