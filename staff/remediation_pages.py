"""The remediation page: the actions of the cases a case manager holds, overdue first."""

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from cases import remediation
from cases.identity import Identity
from cases.vocabulary import REMEDIATION_STATUSES
from web.render import render

from .guard import staff_page
from .session import now


@staff_page
async def remediation_page(request: Request, me: Identity, form: FormData | None) -> Response:
    query = request.query_params
    # An unknown filter value is ignored, as on the case list.
    filters = remediation.Filters(
        overdue=query.get("overdue") == "1",
        status=query.get("status", "") if query.get("status") in REMEDIATION_STATUSES else "",
    )
    async with request.app.state.ctx.sessions() as session:
        listing = await remediation.list_actions(session, me, filters, now(request))
    context = {"me": me.staff, "rows": listing.rows, "more": listing.more, "limit": remediation.PAGE_LIMIT, "filters": filters}
    return render(request, "staff/remediation.html", context)
