"""The reporter's face: the intake pages and the hotline operators' JSON API, as one Starlette sub-app.

Pages answer errors as pages; everything under /api answers them as JSON.
"""

from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.templating import Jinja2Templates

from cases.context import Context
from web.handlers import bare_error_page, error_page, exception_handlers, json_error

from .routes import api_routes, routes

LAYOUT = "intake/base.html"


def create_app(ctx: Context, templates: Jinja2Templates) -> Starlette:
    api = Starlette(routes=api_routes, exception_handlers=exception_handlers(json_error))
    app = Starlette(
        routes=[Mount("/api", app=api, name="api"), *routes],
        exception_handlers=exception_handlers(error_page(LAYOUT), server_error_response=bare_error_page(LAYOUT)),
    )
    for face in (api, app):
        face.state.ctx, face.state.templates = ctx, templates
    return app
