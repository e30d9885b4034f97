"""CSRF protection for both faces.

CSRF uses a double-submit cookie: a random token in a ``SameSite=Strict``
session cookie (``__Host-`` prefixed when cookies are Secure, so a sibling
domain cannot plant one) must match the token in the form. Browsers also tell
us, through ``Sec-Fetch-Site``, when a request comes from another site; those
are refused outright. The cookie is random, dies with the browser session, and
is stored nowhere on the server.
"""

import secrets

from starlette.requests import Request
from starlette.responses import Response

from .errors import CsrfFailed

CSRF_FIELD = "csrf_token"


def _cookie_name(request: Request) -> str:
    return "__Host-csrf" if request.app.state.ctx.settings.secure_cookies else "csrf"


def csrf_token(request: Request) -> str:
    """The token to put in this page's forms (a new one if the browser sent none)."""
    if not hasattr(request.state, "csrf_token"):
        sent = request.cookies.get(_cookie_name(request), "")
        request.state.csrf_new = not (len(sent) == 43 and sent.replace("-", "").replace("_", "").isalnum())
        request.state.csrf_token = secrets.token_urlsafe(32) if request.state.csrf_new else sent
    return request.state.csrf_token


def check_cross_site(request: Request) -> None:
    if request.headers.get("sec-fetch-site") in {"cross-site", "same-site"}:
        raise CsrfFailed("This form was sent from another website. Nothing was saved.")


def check_csrf(request: Request, form_token: object) -> None:
    """Raise ``CsrfFailed`` unless the form's token matches the browser's cookie."""
    check_cross_site(request)
    sent = request.cookies.get(_cookie_name(request), "")
    if not (sent and isinstance(form_token, str) and secrets.compare_digest(sent, form_token)):
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
