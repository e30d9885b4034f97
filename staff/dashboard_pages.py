"""The oversight dashboard (figures and charts over plain metadata) and the Committee's board pack PDF."""

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from cases import boardpack, charts, metrics
from cases.access import require_role
from cases.errors import InvalidInput
from cases.identity import Identity
from cases.steps import PAGES
from web.render import render

from .guard import staff_page
from .session import now


def _page(
    request: Request, me: Identity, board: metrics.Dashboard | None, asked: dict[str, str], error: InvalidInput | None = None
):
    today = now(request).date()
    context = {
        "me": me.staff,
        "board": board,
        "charts": [(chart, charts.svg_data_uri(chart)) for chart in charts.all_charts(board)] if board else [],
        "choices": metrics.quarter_choices(today),
        "asked": asked,  # the quarters as sent (or the default's), to keep them in the form
        "days": metrics.days_text,
        "chart_size": (charts.WIDTH, charts.HEIGHT),
        "open_total": metrics.open_total(board) if board else 0,
        "may_make_pack": me.staff.role in PAGES["boardpack"],
        "problem": error.detail if error else None,
        "errors": error.fields if error else {},
    }
    return render(request, "staff/dashboard.html", context, status_code=error.status if error else 200)


def _asked(request: Request) -> tuple[dict[str, str], metrics.Period]:
    """The period the query asks for (``InvalidInput`` for a bad one), and the form's values."""
    today = now(request).date()
    default = metrics.default_period(today)
    asked = {
        "from": request.query_params.get("from") or default.first.code,
        "to": request.query_params.get("to") or default.last.code,
    }
    return asked, metrics.parse_period(asked["from"], asked["to"], today)


@staff_page
async def dashboard(request: Request, me: Identity, form: FormData | None) -> Response:
    require_role(me, PAGES["dashboard"])  # before the period: a role without a dashboard learns nothing of it
    try:
        asked, period = _asked(request)
    except InvalidInput as error:
        return _page(request, me, None, dict(request.query_params), error)
    async with request.app.state.ctx.sessions() as session:
        board = await metrics.dashboard(session, me, period, now(request).date())
    return _page(request, me, board, asked)


@staff_page
async def board_pack(request: Request, me: Identity, form: FormData | None) -> Response:
    require_role(me, PAGES["boardpack"])
    try:
        _, period = _asked(request)
    except InvalidInput as error:
        return _page(request, me, None, dict(request.query_params), error)
    async with request.app.state.ctx.sessions() as session:
        pdf = await boardpack.make(session, me, period, now(request), request.app.state.ctx.settings.organisation)
    name = f"board-pack-{period.first.code}-{period.last.code}.pdf"
    return Response(pdf, media_type="application/pdf", headers={"content-disposition": f'attachment; filename="{name}"'})
