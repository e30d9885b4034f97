"""One wrapper for every staff handler: log-in check, form reading and CSRF, in one place."""

from collections.abc import Awaitable, Callable
from functools import wraps

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from cases.identity import Identity
from web.bodies import read_small_form
from web.csrf import CSRF_FIELD, check_csrf

from .session import identity

Handler = Callable[[Request, Identity, FormData | None], Awaitable[Response]]


def staff_page(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Require a logged-in staff member; for POST, read the (small, file-less) form and check CSRF."""

    @wraps(handler)
    async def wrapped(request: Request) -> Response:
        me = await identity(request)
        form = None
        if request.method == "POST":
            form = await read_small_form(request)
            check_csrf(request, form.get(CSRF_FIELD))
        return await handler(request, me, form)

    return wrapped
