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
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

import intake
import staff
from cases.context import Context
from cases.settings import Settings
from cases.worker import run_forever
from web.middleware import SECURITY_HEADERS, Anonymise, BodyLimit, SecurityHeaders
from web.render import make_templates

ROOT = Path(__file__).resolve().parent


async def _unexpected(request: Request, exc: Exception) -> Response:
    # Only reached when the shared middleware itself fails (each face answers its own errors),
    # outside that middleware: so the security headers are added here.
    return PlainTextResponse("Something went wrong on our side.", status_code=500, headers=SECURITY_HEADERS)


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
            Mount("/staff", app=staff.create_app(ctx, templates), name="staff"),
            Mount("/api/v1/hr", app=staff.create_hr_api(ctx), name="hr_api"),
            Mount("/static", StaticFiles(directory=ROOT / "static"), name="static"),
            Mount("/", app=intake.create_app(ctx, templates), name="intake"),
        ],
        middleware=[
            Middleware(Anonymise),
            Middleware(SecurityHeaders),
            Middleware(BodyLimit, limit=settings.max_request_bytes),
        ],
        exception_handlers={500: _unexpected},
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
