"""The staff face: login, case list, case file, workflow, committee pages, accounts (a Starlette sub-app),
and the machine API that staff systems (HR) call, with JSON errors.

A request without a login is sent to the login page; every other error is a page.
"""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from cases.context import Context
from cases.errors import SpeakupError
from web.errors import NotLoggedIn
from web.handlers import bare_error_page, error_page, exception_handlers, json_error

from .routes import hr_api_routes, routes

LAYOUT = "staff/base.html"
_page = error_page(LAYOUT)


def _respond(request: Request, error: SpeakupError) -> Response:
    if isinstance(error, NotLoggedIn):
        return RedirectResponse(request.url_for("staff:login").path, status_code=303)
    return _page(request, error)


def create_app(ctx: Context, templates: Jinja2Templates) -> Starlette:
    app = Starlette(routes=routes, exception_handlers=exception_handlers(_respond, server_error_response=bare_error_page(LAYOUT)))
    app.state.ctx, app.state.templates = ctx, templates
    return app


def create_hr_api(ctx: Context) -> Starlette:
    app = Starlette(routes=hr_api_routes, exception_handlers=exception_handlers(json_error))
    app.state.ctx = ctx
    return app
