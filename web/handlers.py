"""The one place where an error becomes a response: a JSON error for a machine API, a page for a person.

Each face (and each machine API) is a Starlette sub-app that picks its
responder once, so no code looks at the URL to decide how to answer.
"""

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cases.errors import SpeakupError

from .errors import MethodNotAllowed, NotFound, ServerError, Unavailable
from .render import render

log = logging.getLogger("speakup")

Respond = Callable[[Request, SpeakupError], Response]


def json_error(request: Request, error: SpeakupError) -> Response:
    """``{"error": code, "detail": text[, "fields": {...}]}`` with the error's status."""
    body: dict[str, object] = {"error": error.code, "detail": error.detail}
    if error.fields:
        body["fields"] = error.fields
    return JSONResponse(body, status_code=error.status)


def error_page(layout: str) -> Respond:
    """A responder that shows the error as a page of the face whose base template is ``layout``."""

    def respond(request: Request, error: SpeakupError) -> Response:
        return render(request, "error.html", {"error": error, "layout": layout}, status_code=error.status)

    return respond


def _http_error(exc: HTTPException) -> SpeakupError:
    if exc.status_code == 404:
        return NotFound()
    if exc.status_code == 405:
        return MethodNotAllowed()
    error = SpeakupError("The request could not be answered.")
    error.status = exc.status_code
    return error


def exception_handlers(respond: Respond, *, server_error_response: Respond | None = None) -> dict[Any, Any]:
    """Starlette ``exception_handlers`` that answer every error through ``respond``.

    ``server_error_response`` answers an unexpected exception; it must not fail
    itself, so a page face passes one that needs no database and sets no cookie.
    """

    async def on_speakup_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SpeakupError)
        return respond(request, exc)

    async def on_http_exception(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return respond(request, _http_error(exc))

    async def on_database_down(request: Request, exc: Exception) -> Response:
        log.error("database unavailable: %s", type(exc).__name__)
        return respond(request, Unavailable())

    async def on_server_error(request: Request, exc: Exception) -> Response:
        # Only the exception type is logged: a message could quote case data.
        log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path)
        return (server_error_response or respond)(request, ServerError())

    return {
        SpeakupError: on_speakup_error,
        HTTPException: on_http_exception,
        OperationalError: on_database_down,
        InterfaceError: on_database_down,
        ConnectionError: on_database_down,
        500: on_server_error,
    }


def bare_error_page(layout: str) -> Respond:
    """The error page without a CSRF token or cookie: for a server error, where nothing else may fail."""

    def respond(request: Request, error: SpeakupError) -> Response:
        templates = request.app.state.templates
        context = {"error": error, "layout": layout, "csrf_token": ""}
        return templates.TemplateResponse(request, "error.html", context, status_code=error.status)

    return respond
