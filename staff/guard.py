"""One wrapper for every staff handler: log-in check, form reading and CSRF, in one place."""

from collections.abc import Awaitable, Callable
from functools import wraps

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from cases.identity import Identity
from web.bodies import SubmittedForm, read_form, read_small_form
from web.csrf import CSRF_FIELD, check_csrf
from web.errors import UnsupportedMediaType

from .session import identity

Handler = Callable[[Request, Identity, FormData | None], Awaitable[Response]]


class FilesForm(FormData):
    """A staff form with the files it carried, in memory (``staff_upload_page``): its fields read
    like any other form's, and ``submitted`` keeps the files and those dropped as too large."""

    def __init__(self, submitted: SubmittedForm) -> None:
        super().__init__(list(submitted.fields.items()))
        self.submitted = submitted


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


def staff_upload_page(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """For the one staff form that carries files (a reply to the reporter), POST only: once the
    login is checked, the body is read as the reporter's forms are (``read_form``: files kept in
    memory, within the upload limits of the settings), and CSRF is checked as on every other form.
    Every other staff form stays small and file-less (``staff_page``)."""

    @wraps(handler)
    async def wrapped(request: Request) -> Response:
        me = await identity(request)  # nobody gets a multipart body parsed before logging in
        try:
            submitted = await read_form(request, request.app.state.ctx.settings)
        except UnsupportedMediaType:  # as in read_small_form: any other body is an empty form, refused below
            submitted = SubmittedForm(fields={})
        check_csrf(request, submitted.get(CSRF_FIELD))
        return await handler(request, me, FilesForm(submitted))

    return wrapped
