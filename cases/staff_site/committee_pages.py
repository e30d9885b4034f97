"""Retaliation flags, and the Audit Committee's discipline register."""

from datetime import date

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .. import discipline, retaliation
from ..errors import InvalidInput
from ..models import CATEGORIES, DISCIPLINARY_ACTIONS, FINDINGS, FLAG_RESOLUTIONS, RETALIATION_FORMS, SUBJECT_TYPES
from ..web import render
from .guard import staff_page
from .session import now


async def _flags_page(request: Request, me, *, problem=None, errors=None, status_code=200) -> Response:
    async with request.app.state.ctx.sessions() as session:
        rows = await retaliation.list_flags(session, me, include_resolved=request.query_params.get("all") == "1")
    context = {"me": me.staff, "flags": rows, "forms": RETALIATION_FORMS, "resolutions": FLAG_RESOLUTIONS,
               "today": now(request).date(), "problem": problem, "errors": errors or {}}
    return render(request, "staff/flags.html", context, status_code=status_code)


@staff_page
async def flags(request: Request, me, form) -> Response:
    return await _flags_page(request, me)


@staff_page
async def flag_action(request: Request, me, form) -> Response:
    flag_id = request.path_params["flag_id"]
    try:
        async with request.app.state.ctx.sessions() as session:
            if form.get("step") == "review":
                await retaliation.review_flag(session, me, flag_id, now(request))
            elif form.get("step") == "resolve":
                await retaliation.resolve_flag(
                    session, me, flag_id, str(form.get("resolution", "")), str(form.get("record", "")), now(request)
                )
            else:
                raise InvalidInput("Unknown step.")
    except InvalidInput as error:
        return await _flags_page(request, me, problem=error.detail, errors=error.fields, status_code=error.status)
    return RedirectResponse("/staff/flags", status_code=303)


def _period(request: Request) -> tuple[date, date]:
    today = now(request).date()
    try:
        start = date.fromisoformat(request.query_params.get("from", ""))
    except ValueError:
        start = date(today.year - 1, today.month, 1)
    try:
        end = date.fromisoformat(request.query_params.get("to", ""))
    except ValueError:
        end = today
    return start, end


@staff_page
async def register_page(request: Request, me, form) -> Response:
    start, end = _period(request)
    async with request.app.state.ctx.sessions() as session:
        rows = await discipline.register(session, me, start, end)
    context = {"me": me.staff, "rows": rows, "summary": discipline.summary(rows), "start": start, "end": end,
               "categories": CATEGORIES, "findings": FINDINGS, "actions": DISCIPLINARY_ACTIONS, "subject_types": SUBJECT_TYPES}
    return render(request, "staff/register.html", context)


@staff_page
async def register_csv(request: Request, me, form) -> Response:
    start, end = _period(request)
    async with request.app.state.ctx.sessions() as session:
        text = await discipline.export_csv(session, me, start, end, now(request))
    name = f"discipline-register-{start}-{end}.csv"
    return Response(text, media_type="text/csv; charset=utf-8", headers={"content-disposition": f'attachment; filename="{name}"'})
