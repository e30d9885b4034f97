"""The Speakup ASGI application: ``create_app(settings)``, and ``app`` for servers.

Run with ``speakup serve`` (or any ASGI server: ``uvicorn asgi:app``). The app
is the two faces and the staff systems' API, mounted side by side inside the
middleware both share; each maps its own errors.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

import intake
import staff
from cases.context import Context
from cases.health import readiness
from cases.settings import Settings
from cases.worker import run_forever
from web.errors import Unavailable
from web.handlers import error_page, exception_handlers
from web.middleware import SECURITY_HEADERS, Anonymise, BodyLimit, SecurityHeaders
from web.render import make_templates

ROOT = Path(__file__).resolve().parent


async def _unexpected(request: Request, exc: Exception) -> Response:
    # Only reached when the shared middleware itself fails (each face answers its own errors),
    # outside that middleware: so the security headers are added here.
    return PlainTextResponse("Something went wrong on our side.", status_code=500, headers=SECURITY_HEADERS)


async def _to_staff_site(request: Request) -> Response:
    # The reporter's face mounted at / would answer /staff with its 404: send it on, as a trailing slash would.
    return RedirectResponse("/staff/", status_code=307)


async def _healthz(request: Request) -> Response:
    # For load balancers: the process answers. Nothing else, so it costs nothing and says nothing.
    return JSONResponse({"status": "ok"})


async def _readyz(request: Request) -> Response:
    # For load balancers: send traffic here only while the database answers with the code's schema.
    ready, detail = await readiness(request.app.state.ctx)
    if ready:
        return JSONResponse({"status": "ok"})
    body = {"status": "unavailable", "detail": detail}
    return JSONResponse(body, status_code=503, headers={"retry-after": str(Unavailable.retry_after)})


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    ctx = Context(settings)
    templates = make_templates(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
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
            # Before the mounts: the reporter's face at / would answer them with its 404.
            Route("/healthz", _healthz),
            Route("/readyz", _readyz),
            Mount("/staff", app=staff.create_app(ctx, templates), name="staff"),
            Route("/staff", _to_staff_site),
            Mount("/api/v1/hr", app=staff.create_hr_api(ctx), name="hr_api"),
            Mount("/api", app=intake.create_api(ctx), name="api"),
            Mount("/static", StaticFiles(directory=ROOT / "static"), name="static"),
            Mount("/", app=intake.create_app(ctx, templates), name="intake"),
        ],
        middleware=[
            Middleware(Anonymise),
            Middleware(SecurityHeaders),
            Middleware(BodyLimit, limit=settings.max_request_bytes),
        ],
        # What no face answers (a missing static file) is answered as the reporter's site would.
        exception_handlers={**exception_handlers(error_page(intake.LAYOUT), database=False), 500: _unexpected},
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    app.state.templates = templates
    return app


def __getattr__(name: str) -> Starlette:
    # `asgi:app` for ASGI servers, built on first access so importing this
    # module (as the tests do) reads no environment.
    if name == "app":
        return create_app()
    raise AttributeError(name)
