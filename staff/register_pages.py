"""The Audit Committee's register of every complaint (cases/register.py): the page, its CSV, and
asking for a case to be escalated."""

from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from cases import register
from cases.caselist import MAX_PAGE_SIZE, PAGE_SIZE
from cases.errors import WrongStatus
from cases.identity import Identity
from web.bodies import as_id
from web.render import render

from .guard import staff_page
from .session import now

# What the redirect after an escalation request says (post/redirect/get: a reload asks nothing again).
REQUEST_SENTENCES = {
    "requested": "Escalation requested: the Compliance Officers who hold the case were told by mail, and the request is logged.",
    "standing": "An escalation request for this case stands already; nothing was sent again.",
}


def _paths(request: Request, name: str):
    """The path of route ``name`` for any reference, looked up once: each lookup walks the route
    table, and two per row were a third of the page's time at 50 rows."""
    template = request.url_for(name, reference="REFERENCE").path
    return lambda reference: template.replace("REFERENCE", reference)


def _filter_query(request: Request) -> dict[str, str]:
    """The filters of the page as given, for the links to the next page and to the CSV."""
    names = ("status", "category", "channel", "routing", "overdue", "flagged", "from", "to", "per_page")
    return {name: request.query_params[name] for name in names if request.query_params.get(name)}


@staff_page
async def complaints(request: Request, me: Identity, form: FormData | None) -> Response:
    return await _complaints_page(request, me)


async def _complaints_page(request: Request, me: Identity, problem: str = "") -> Response:
    query = request.query_params
    filters = register.Filters.parse(dict(query))
    per_page = as_id(query.get("per_page"))
    async with request.app.state.ctx.sessions() as session:
        page = await register.list_register(
            session,
            me,
            filters,
            now(request).date(),
            now(request),
            after=register.Cursor.parse(query.get("after")),
            before=register.Cursor.parse(query.get("before")),
            size=min(max(per_page or PAGE_SIZE, 1), MAX_PAGE_SIZE),
        )
    kept = _filter_query(request)
    context = {
        "me": me.staff,
        "page": page,
        "filters": filters,
        "total": ""
        if page.total is None
        else f"more than {register.COUNT_LIMIT:,}"
        if page.total > register.COUNT_LIMIT
        else f"{page.total:,}",
        "query": urlencode(kept),
        "next_query": urlencode({**kept, "after": str(page.next)}) if page.next else "",
        "previous_query": urlencode({**kept, "before": str(page.previous)}) if page.previous else "",
        "case_path": _paths(request, "staff:case"),
        "escalation_path": _paths(request, "staff:request_escalation"),
        "done": REQUEST_SENTENCES.get(query.get("done", ""), ""),
        "problem": problem,
    }
    return render(request, "staff/complaints.html", context, status_code=409 if problem else 200)


@staff_page
async def complaints_csv(request: Request, me: Identity, form: FormData | None) -> Response:
    filters = register.Filters.parse(dict(request.query_params))
    async with request.app.state.ctx.sessions() as session:
        text = await register.export_csv(session, me, filters, now(request).date(), now(request))
    name = f"complaint-register-{now(request).date().isoformat()}.csv"
    return Response(text, media_type="text/csv; charset=utf-8", headers={"content-disposition": f'attachment; filename="{name}"'})


@staff_page
async def request_escalation(request: Request, me: Identity, form: FormData | None) -> Response:
    ctx = request.app.state.ctx
    try:
        async with ctx.sessions() as session:
            new = await register.request_escalation(session, ctx.settings, me, request.path_params["reference"], now(request))
    except WrongStatus as refused:
        return await _complaints_page(request, me, problem=refused.detail)
    done = "requested" if new else "standing"
    return RedirectResponse(request.url_for("staff:complaints").path + f"?done={done}", status_code=303)
