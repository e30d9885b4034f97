"""The reporter's face: the intake pages (a Starlette sub-app that answers errors as pages) and the
hotline operators' JSON API (a sibling sub-app that answers everything, errors included, as JSON)."""

from starlette.applications import Starlette
from starlette.templating import Jinja2Templates

from cases.context import Context
from web.handlers import bare_error_page, error_page, exception_handlers, json_error

from .routes import api_routes, routes

LAYOUT = "intake/base.html"


def create_app(ctx: Context, templates: Jinja2Templates) -> Starlette:
    app = Starlette(
        routes=routes, exception_handlers=exception_handlers(error_page(LAYOUT), server_error_response=bare_error_page(LAYOUT))
    )
    app.state.ctx, app.state.templates = ctx, templates
    return app


def create_api(ctx: Context) -> Starlette:
    app = Starlette(routes=api_routes, exception_handlers=exception_handlers(json_error))
    app.state.ctx = ctx
    return app
