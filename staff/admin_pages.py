"""Accounts (administrators), hand-over (case managers) and the audit log (administrators, Audit Committee)."""

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from cases import audit, done, steps
from cases.accounts import change_account, create_staff, list_accounts
from cases.errors import InvalidInput
from cases.grants import unheld_alarm
from cases.identity import Identity
from cases.workflow import hand_over, hand_over_result
from cases.workflow import team as team_of
from web.bodies import as_id
from web.render import render

from .guard import staff_page
from .session import now


async def _accounts_page(
    request: Request, me: Identity, *, error: InvalidInput | None = None, failed: int | None = None
) -> Response:
    async with request.app.state.ctx.sessions() as session:
        staff = await list_accounts(session, me)
    async with request.app.state.ctx.sessions() as session:
        unheld = await unheld_alarm(session, me)
    query = request.query_params
    revoked = as_id(query.get("revoked"))
    context = {
        "me": me.staff,
        "staff": staff,
        "unheld": len(unheld),
        # After a redirect: the change's name (and a count) in the URL, the words from cases/done.py.
        "notice": None if error else done.account_notice(query.get("done", ""), revoked or 0),
        "problem": error.detail if error else None,
        "errors": error.fields if error else {},
        "failed": failed,  # the account whose form failed: its confirmation box shows the error
    }
    return render(request, "staff/accounts.html", context, status_code=error.status if error else 200)


def _text(form: FormData, field: str) -> str:
    value = str(form.get(field, ""))
    if "\x00" in value:  # no text column of PostgreSQL stores it
        raise InvalidInput(fields={field: "Remove the NUL character."})
    return value


def _done(request: Request, page: str, name: str, **query: object) -> RedirectResponse:
    """Post/redirect/get: back to the page, naming what was done (names and ids, never free text)."""
    params = "&".join(f"{key}={value}" for key, value in {"done": name, **query}.items())
    return RedirectResponse(request.url_for(page).path + "?" + params, status_code=303)


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
                email=_text(form, "email"),
                role=_text(form, "role"),
                password=_text(form, "password"),
                actor=me,
            )
    except InvalidInput as error:
        return await _accounts_page(request, me, error=error)
    return _done(request, "staff:accounts", "created")


@staff_page
async def account(request: Request, me: Identity, form: FormData | None) -> Response:
    form = form or FormData()
    staff_id = request.path_params["staff_id"]
    change = str(form.get("change", ""))
    ctx = request.app.state.ctx
    try:
        async with ctx.sessions() as session:
            revoked = await change_account(
                session,
                ctx,
                me,
                staff_id,
                change,
                role=str(form.get("role", "")),
                confirmed=form.get(steps.CONFIRM_FIELD) == "yes",
            )
    except InvalidInput as error:
        return await _accounts_page(request, me, error=error, failed=staff_id)
    # Say how many grants a new role gave up: the account can no longer read those cases.
    return _done(request, "staff:accounts", change, **({"revoked": revoked} if revoked else {}))


@staff_page
async def team(request: Request, me: Identity, form: FormData | None) -> Response:
    """Hand all open cases of a leaving staff member over to another, in one step."""
    async with request.app.state.ctx.sessions() as session:
        members = await team_of(session, me)
    context: dict = {"me": me.staff, "team": members, "errors": {}}
    if form is None:
        leaver, successor = as_id(request.query_params.get("leaver")), as_id(request.query_params.get("successor"))
        if request.query_params.get("done") == "hand-over" and leaver is not None and successor is not None:
            async with request.app.state.ctx.sessions() as session:
                result = await hand_over_result(session, me, leaver, successor, now(request))
            if result is not None:
                context.update(moved=result[0], skipped=result[1])
        return render(request, "staff/team.html", context)
    leaver, successor = as_id(form.get("leaver")), as_id(form.get("successor"))
    try:
        if leaver is None or successor is None:
            raise InvalidInput(fields={"successor": "Choose who leaves and who takes over."})
        async with request.app.state.ctx.sessions() as session:
            await hand_over(session, me, leaver, successor, now(request), confirmed=form.get(steps.CONFIRM_FIELD) == "yes")
    except InvalidInput as error:
        context.update(problem=error.detail, errors=error.fields)
        return render(request, "staff/team.html", context, status_code=error.status)
    return _done(request, "staff:team", "hand-over", leaver=leaver, successor=successor)


@staff_page
async def audit_log(request: Request, me: Identity, form: FormData | None) -> Response:
    page = as_id(request.query_params.get("page"))
    page = 1 if page is None else page
    async with request.app.state.ctx.sessions() as session:
        log = await audit.read_log(session, me, page, verify_chain=request.query_params.get("verify") == "1")
    return render(request, "staff/audit.html", {"me": me.staff, "log": log})
