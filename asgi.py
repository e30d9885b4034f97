"""The Speakup ASGI application: ``create_app(settings)``, and ``app`` for servers.

Run with ``speakup serve`` (or any ASGI server: ``uvicorn asgi:app``).
"""

import asyncio
import contextlib
import logging
from pathlib import Path

from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cases.context import Context
from cases.errors import NotLoggedIn, SpeakupError, TooLarge, Unavailable
from cases.settings import Settings
from cases.worker import run_forever
from cases.staff_site.routes import api_routes as staff_api_routes
from cases.staff_site.routes import routes as staff_routes
from cases.web import render
from intake.routes import routes as intake_routes

ROOT = Path(__file__).resolve().parent
log = logging.getLogger("speakup")

SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}
# Headers that identify the client or its network. Dropped before any of our
# code (or a library's logging) can see them.
IDENTIFYING_HEADERS = {
    b"user-agent",
    b"x-forwarded-for",
    b"x-real-ip",
    b"forwarded",
    b"via",
    b"true-client-ip",
    b"cf-connecting-ip",
    b"x-client-ip",
    b"referer",
}


class Anonymise:
    """Strip the client address and identifying headers from every request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in {"http", "websocket"}:
            scope = dict(scope, client=None)
            scope["headers"] = [(k, v) for k, v in scope["headers"] if k not in IDENTIFYING_HEADERS]
        await self.app(scope, receive, send)


class SecurityHeaders:
    """Add the security headers to every response, errors included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items() if k.encode() not in present]
                message = dict(message, headers=[*message.get("headers", []), *extra])
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with ``TooLarge``, before reading them all."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        received = 0
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        too_large = not declared.isdigit() or int(declared) > self.limit

        async def limited_receive() -> Message:
            nonlocal received
            if too_large:
                raise TooLarge()
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise TooLarge()
            return message

        await self.app(scope, limited_receive, send)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def error_response(request: Request, error: SpeakupError) -> Response:
    """The one place a domain error becomes a response."""
    if isinstance(error, NotLoggedIn) and not _wants_json(request):
        return RedirectResponse("/staff/login", status_code=303)
    if _wants_json(request):
        body = {"error": error.code, "detail": error.detail}
        if error.fields:
            body["fields"] = error.fields
        return JSONResponse(body, status_code=error.status)
    return render(request, "error.html", {"error": error}, status_code=error.status)


async def on_speakup_error(request: Request, exc: Exception) -> Response:
    return error_response(request, exc)  # type: ignore[arg-type]


async def on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    error = SpeakupError({404: "There is no page here.", 405: "This address does not take that method."}.get(
        exc.status_code, "The request could not be answered."
    ))
    error.status = exc.status_code
    error.code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "bad_request")
    return error_response(request, error)


async def on_database_down(request: Request, exc: Exception) -> Response:
    log.error("database unavailable: %s", type(exc).__name__)
    return error_response(request, Unavailable())


async def on_server_error(request: Request, exc: Exception) -> Response:
    # Runs outside the middleware stack, so it adds the security headers itself.
    # Only the exception type is logged: a message could quote case data.
    log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path)
    error = SpeakupError("Something went wrong on our side. Nothing you sent was shown to anyone.")
    error.status, error.code = 500, "internal_error"
    if _wants_json(request):
        return JSONResponse({"error": error.code, "detail": error.detail}, status_code=500, headers=SECURITY_HEADERS)
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(
        request, "error.html", {"error": error, "csrf_token": ""}, status_code=500, headers=SECURITY_HEADERS
    )


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    ctx = Context(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        worker = asyncio.create_task(run_forever(ctx)) if settings.worker_in_app else None
        try:
            yield
        finally:
            if worker is not None:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
            await ctx.close()

    app = Starlette(
        routes=[
            *intake_routes,
            *staff_api_routes,
            Mount("/staff", routes=staff_routes),
            Mount("/static", StaticFiles(directory=ROOT / "static"), name="static"),
        ],
        middleware=[
            Middleware(Anonymise),
            Middleware(SecurityHeaders),
            Middleware(BodyLimit, limit=settings.max_request_bytes),
        ],
        exception_handlers={
            SpeakupError: on_speakup_error,
            HTTPException: on_http_exception,
            OperationalError: on_database_down,
            InterfaceError: on_database_down,
            ConnectionError: on_database_down,
            500: on_server_error,
        },
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    app.state.templates = Jinja2Templates(directory=ROOT / "templates")
    app.state.templates.env.globals["organisation"] = settings.organisation
    return app


def __getattr__(name: str):
    # `asgi:app` for ASGI servers, built on first access so importing this
    # module (as the tests do) reads no environment.
    if name == "app":
        return create_app()
    raise AttributeError(name)
