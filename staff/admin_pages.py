"""Accounts (administrators), hand-over (case managers) and the audit log (administrators, Audit Committee)."""

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from cases import audit
from cases.accounts import change_account, create_staff, list_accounts
from cases.errors import InvalidInput
from cases.identity import Identity
from cases.workflow import hand_over
from cases.workflow import team as team_of
from web.render import render

from .guard import staff_page
from .session import now


async def _accounts_page(
    request: Request, me: Identity, *, error: InvalidInput | None = None, notice: str | None = None
) -> Response:
    async with request.app.state.ctx.sessions() as session:
        staff = await list_accounts(session, me)
    context = {
        "me": me.staff,
        "staff": staff,
        "notice": notice,
        "problem": error.detail if error else None,
        "errors": error.fields if error else {},
    }
    return render(request, "staff/accounts.html", context, status_code=error.status if error else 200)


@staff_page
async def accounts(request: Request, me: Identity, form: FormData | None) -> Response:
    if form is None:
        return await _accounts_page(request, me)
    ctx = request.app.state.ctx
    try:
        async with ctx.sessions() as session:
            await create_staff(
                session,
                ctx,
                email=str(form.get("email", "")),
                role=str(form.get("role", "")),
                password=str(form.get("password", "")),
                actor=me,
            )
    except InvalidInput as error:
        return await _accounts_page(request, me, error=error)
    return await _accounts_page(request, me, notice="Account created. It enrols its second factor at first login.")


@staff_page
async def account(request: Request, me: Identity, form: FormData | None) -> Response:
    form = form or FormData()
    ctx = request.app.state.ctx
    try:
        async with ctx.sessions() as session:
            await change_account(
                session, ctx, me, request.path_params["staff_id"], str(form.get("change", "")), role=str(form.get("role", ""))
            )
    except InvalidInput as error:
        return await _accounts_page(request, me, error=error)
    return RedirectResponse(request.url_for("staff:accounts").path, status_code=303)


@staff_page
async def team(request: Request, me: Identity, form: FormData | None) -> Response:
    """Hand all open cases of a leaving staff member over to another, in one step."""
    async with request.app.state.ctx.sessions() as session:
        members = await team_of(session, me)
    context = {"me": me.staff, "team": members, "errors": {}}
    if form is None:
        return render(request, "staff/team.html", context)
    leaver, successor = str(form.get("leaver", "")), str(form.get("successor", ""))
    try:
        if not (leaver.isdigit() and successor.isdigit()):
            raise InvalidInput(fields={"successor": "Choose who leaves and who takes over."})
        async with request.app.state.ctx.sessions() as session:
            moved, skipped = await hand_over(session, me, int(leaver), int(successor), now(request))
    except InvalidInput as error:
        context.update(problem=error.detail, errors=error.fields)
        return render(request, "staff/team.html", context, status_code=error.status)
    context.update(moved=moved, skipped=skipped)
    return render(request, "staff/team.html", context)


@staff_page
async def audit_log(request: Request, me: Identity, form: FormData | None) -> Response:
    page = int(request.query_params["page"]) if request.query_params.get("page", "").isdigit() else 1
    async with request.app.state.ctx.sessions() as session:
        log = await audit.read_log(session, me, page, verify_chain=request.query_params.get("verify") == "1")
    return render(request, "staff/audit.html", {"me": me.staff, "log": log})
