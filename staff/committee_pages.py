"""Retaliation flags, and the Audit Committee's discipline register."""

from datetime import date

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from cases import discipline, done, retaliation, steps
from cases.errors import InvalidInput
from cases.identity import Identity
from web.render import render

from .guard import staff_page
from .session import now


async def _flags_page(
    request: Request, me: Identity, *, error: InvalidInput | None = None, failed: tuple[str, int] | None = None
) -> Response:
    async with request.app.state.ctx.sessions() as session:
        rows = await retaliation.list_flags(session, me, include_resolved=request.query_params.get("all") == "1")
    context = {
        "me": me.staff,
        "flags": rows,
        "today": now(request).date(),
        "problem": error.detail if error else None,
        "errors": error.fields if error else {},
        "failed": failed,  # (reference, number) of the flag whose form failed: its fields show the errors
        "done": "" if error else done.FLAG_SENTENCES.get(request.query_params.get("done", ""), ""),
    }
    return render(request, "staff/flags.html", context, status_code=error.status if error else 200)


@staff_page
async def flags(request: Request, me: Identity, form: FormData | None) -> Response:
    return await _flags_page(request, me)


@staff_page
async def flag_action(request: Request, me: Identity, form: FormData | None) -> Response:
    reference, number = request.path_params["reference"], request.path_params["number"]
    form = form or FormData()
    try:
        async with request.app.state.ctx.sessions() as session:
            if form.get("step") == "review":
                await retaliation.review_flag(session, me, reference, number, now(request))
            elif form.get("step") == "resolve":
                steps.check_confirmed(steps.FLAG_STEPS["resolve"], form.get(steps.CONFIRM_FIELD))
                await retaliation.resolve_flag(
                    session, me, reference, number, str(form.get("resolution", "")), str(form.get("record", "")), now(request)
                )
            else:
                raise InvalidInput("Unknown step.")
    except InvalidInput as error:
        return await _flags_page(request, me, error=error, failed=(reference, number))
    return RedirectResponse(request.url_for("staff:flags").path + f"?done={form.get('step')}", status_code=303)


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
async def register_page(request: Request, me: Identity, form: FormData | None) -> Response:
    start, end = _period(request)
    async with request.app.state.ctx.sessions() as session:
        rows = await discipline.register(session, me, start, end)
    context = {"me": me.staff, "rows": rows, "summary": discipline.summary(rows), "start": start, "end": end}
    return render(request, "staff/register.html", context)


@staff_page
async def register_csv(request: Request, me: Identity, form: FormData | None) -> Response:
    start, end = _period(request)
    async with request.app.state.ctx.sessions() as session:
        text = await discipline.export_csv(session, me, start, end, now(request))
    name = f"discipline-register-{start}-{end}.csv"
    return Response(text, media_type="text/csv; charset=utf-8", headers={"content-disposition": f'attachment; filename="{name}"'})
