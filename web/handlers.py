"""The one place where an error becomes a response: a JSON error for a machine API, a page for a person.

Each face (and each machine API) is a Starlette sub-app that picks its
responder once, so no code looks at the URL to decide how to answer.
"""

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cases.errors import SpeakupError

from .errors import Conflict, MethodNotAllowed, NotFound, ServerError, Unavailable
from .render import render

log = logging.getLogger("speakup")

Respond = Callable[[Request, SpeakupError], Response]

# SQLSTATE classes that say the database, not the request, failed: 08 the connection is gone,
# 53 out of resources (too many connections, disk full), 57 stopped by an operator, a shutdown
# or our statement_timeout (57014), 58 the server's own I/O.
_OUTAGE_SQLSTATE_CLASSES = {"08", "53", "57", "58"}
# A serialisation failure or a deadlock: two requests raced and the database rolled this one back.
_CONFLICT_SQLSTATES = {"40001", "40P01"}


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database is unreachable, restarting, cut off or too slow (a 503, never a 500).

    asyncpg's own timeouts and a refused or reset connection arrive untranslated, as OSError
    (TimeoutError, ConnectionError, socket.gaierror); SQLite's busy database is an OperationalError.
    """
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout | OSError):
        return True
    if isinstance(exc, DBAPIError):
        sqlstate = getattr(exc.orig, "sqlstate", None) or ""
        return exc.connection_invalidated or sqlstate[:2] in _OUTAGE_SQLSTATE_CLASSES
    return False


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


def exception_handlers(
    respond: Respond, *, server_error_response: Respond | None = None, database: bool = True
) -> dict[Any, Any]:
    """Starlette ``exception_handlers`` that answer every error through ``respond``.

    ``server_error_response`` answers an unexpected exception; it must not fail
    itself, so a page face passes one that needs no database and sets no cookie.
    ``database=False`` for the app around the faces: each face answers its own
    database errors, and one a face re-raises after its 500 page must pass through.
    """

    def answer(request: Request, error: SpeakupError) -> Response:
        response = respond(request, error)
        if error.retry_after:  # a refusal that passes (busy, the database down): when to come back
            response.headers["retry-after"] = str(error.retry_after)
        return response

    async def on_speakup_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SpeakupError)
        return answer(request, exc)

    async def on_http_exception(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return respond(request, _http_error(exc))

    async def on_database_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) in _CONFLICT_SQLSTATES:
            return answer(request, Conflict())
        if not database_unavailable(exc):
            raise exc  # a fault of ours (a broken constraint, say): the 500 handler answers it
        log.error("database unavailable: %s", type(exc).__name__)
        return answer(request, Unavailable())

    async def on_server_error(request: Request, exc: Exception) -> Response:
        # Only the exception type is logged: a message could quote case data.
        log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path)
        return (server_error_response or respond)(request, ServerError())

    handlers: dict[Any, Any] = {SpeakupError: on_speakup_error, HTTPException: on_http_exception, 500: on_server_error}
    if database:
        handlers.update({DBAPIError: on_database_error, PoolTimeout: on_database_error, OSError: on_database_error})
    return handlers


def bare_error_page(layout: str) -> Respond:
    """The error page without a CSRF token or cookie: for a server error, where nothing else may fail."""

    def respond(request: Request, error: SpeakupError) -> Response:
        templates = request.app.state.templates
        context = {"error": error, "layout": layout, "csrf_token": ""}
        return templates.TemplateResponse(request, "error.html", context, status_code=error.status)

    return respond
