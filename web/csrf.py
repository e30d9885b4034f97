"""CSRF protection for both faces.

CSRF uses a double-submit cookie: a random token in a ``SameSite=Strict``
session cookie (``__Host-`` prefixed when cookies are Secure, so a sibling
domain cannot plant one) must match the token in the form. Browsers also tell
us, through ``Sec-Fetch-Site``, when a request comes from another site; those
are refused outright. The cookie is random, dies with the browser session, and
is stored nowhere on the server.
"""

import re
import secrets

from starlette.requests import Request
from starlette.responses import Response

from .errors import CsrfFailed

CSRF_FIELD = "csrf_token"
# What secrets.token_urlsafe(32) gives: 43 characters of the URL-safe base64 alphabet (ASCII only).
TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")


def _cookie_name(request: Request) -> str:
    return "__Host-csrf" if request.app.state.ctx.settings.secure_cookies else "csrf"


def csrf_token(request: Request) -> str:
    """The token to put in this page's forms (a new one if the browser sent none)."""
    if not hasattr(request.state, "csrf_token"):
        sent = request.cookies.get(_cookie_name(request), "")
        request.state.csrf_new = TOKEN.fullmatch(sent) is None
        request.state.csrf_token = secrets.token_urlsafe(32) if request.state.csrf_new else sent
    return request.state.csrf_token


def check_cross_site(request: Request) -> None:
    if request.headers.get("sec-fetch-site") in {"cross-site", "same-site"}:
        raise CsrfFailed("This form was sent from another website. Nothing was saved.")


def check_csrf(request: Request, form_token: object) -> None:
    """Raise ``CsrfFailed`` unless the form's token matches the browser's cookie."""
    check_cross_site(request)
    sent = request.cookies.get(_cookie_name(request), "")
    # Both must have the token's shape before they are compared: compare_digest refuses
    # (TypeError) a str that is not ASCII, and a long one is not worth comparing.
    if not (
        TOKEN.fullmatch(sent)
        and isinstance(form_token, str)
        and TOKEN.fullmatch(form_token)
        and secrets.compare_digest(sent, form_token)
    ):
        raise CsrfFailed()


def set_csrf_cookie(request: Request, response: Response) -> None:
    """Give the browser this page's token, when the page made a new one."""
    if request.state.csrf_new:
        response.set_cookie(
            _cookie_name(request),
            csrf_token(request),
            path="/",
            secure=request.app.state.ctx.settings.secure_cookies,
            httponly=True,
            samesite="strict",
        )
