"""A case exported as a PDF (cases/export.py): GET without the reporter's identity, POST with it and a reason."""

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from cases.errors import InvalidInput
from cases.export import export_case
from cases.identity import Identity

from .case_pages import _case_page, content_disposition
from .guard import staff_page
from .session import now


@staff_page
async def export_pdf(request: Request, me: Identity, form: FormData | None) -> Response:
    reference = request.path_params["reference"]
    # Only the POST (CSRF-checked, with a reason) may carry the identity; a link never does.
    reason = str(form.get("export_reason", "")) if form is not None else None
    try:
        async with request.app.state.ctx.sessions() as session:
            made = await export_case(session, me, reference, now(request), reason=reason)
    except InvalidInput as error:  # the case page again, saying what the reason lacks
        return await _case_page(request, me, error=error, action="export")
    # A download, never shown inline: the file name is the reference and the time, ASCII only.
    return Response(made.data, media_type="application/pdf", headers={"content-disposition": content_disposition(made.name)})
