"""The staff session cookie, and loading the logged-in staff member for a request."""

from datetime import datetime

from starlette.requests import Request
from starlette.responses import Response

from cases.auth import DEVICE_LIFETIME, current_identity
from cases.identity import Identity
from web.errors import NotLoggedIn


def now(request: Request) -> datetime:
    return request.app.state.ctx.now()


def cookie_name(request: Request) -> str:
    # __Host-: Secure, whole site, no Domain: a sibling host cannot set or read it.
    return "__Host-speakup" if request.app.state.ctx.settings.secure_cookies else "speakup"


def session_cookie(request: Request) -> str | None:
    return request.cookies.get(cookie_name(request))


def set_session_cookie(request: Request, response: Response, value: str) -> None:
    """A session cookie (no expiry: it dies with the browser; the server ends it after 30 idle minutes)."""
    response.set_cookie(
        cookie_name(request),
        value,
        path="/",
        secure=request.app.state.ctx.settings.secure_cookies,
        httponly=True,
        samesite="strict",
    )


def device_cookie_name(request: Request) -> str:
    return "__Host-speakup-device" if request.app.state.ctx.settings.secure_cookies else "speakup-device"


def device_cookie(request: Request) -> str | None:
    return request.cookies.get(device_cookie_name(request))


def set_device_cookie(request: Request, response: Response, value: str) -> None:
    """The browser's device cookie (cases/throttle.py): kept across visits, as long as the server keeps its row."""
    response.set_cookie(
        device_cookie_name(request),
        value,
        max_age=int(DEVICE_LIFETIME.total_seconds()),
        path="/",
        secure=request.app.state.ctx.settings.secure_cookies,
        httponly=True,
        samesite="strict",
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        cookie_name(request), path="/", secure=request.app.state.ctx.settings.secure_cookies, httponly=True, samesite="strict"
    )


async def identity(request: Request) -> Identity:
    """The logged-in staff member, or ``NotLoggedIn`` (which sends a browser to the login page)."""
    ctx = request.app.state.ctx
    async with ctx.sessions() as session:
        found = await current_identity(session, session_cookie(request), now(request))
    if found is None:
        raise NotLoggedIn()
    request.state.staff = found.staff
    return found
