"""Accounts (administrators), hand-over (case managers) and the audit log (administrators, Audit Committee)."""

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .. import audit
from ..access import AUDIT_READERS, MANAGING_ROLES, require_role
from ..errors import InvalidInput
from ..models import AuditEntry, Case, Staff
from ..settings import ROLES
from ..staff import create_staff, update_staff
from ..web import render
from ..workflow import ASSIGNABLE_ROLES, hand_over
from .guard import staff_page
from .session import now

AUDIT_PAGE = 100


async def _staff(request: Request) -> list[Staff]:
    async with request.app.state.ctx.sessions() as session:
        return list(await session.scalars(select(Staff).order_by(Staff.email)))


async def _accounts_page(request: Request, me, *, problem=None, errors=None, status_code=200, notice=None) -> Response:
    context = {"me": me.staff, "staff": await _staff(request), "roles": ROLES, "problem": problem,
               "errors": errors or {}, "notice": notice}
    return render(request, "staff/accounts.html", context, status_code=status_code)


@staff_page
async def accounts(request: Request, me, form) -> Response:
    require_role(me, frozenset({"admin"}))
    if form is None:
        return await _accounts_page(request, me)
    ctx = request.app.state.ctx
    try:
        async with ctx.sessions() as session:
            await create_staff(
                session, ctx, email=str(form.get("email", "")), role=str(form.get("role", "")),
                password=str(form.get("password", "")), actor_id=me.staff.id,
            )
    except InvalidInput as error:
        return await _accounts_page(request, me, problem=error.detail, errors=error.fields, status_code=error.status)
    return await _accounts_page(request, me, notice="Account created. It enrols its second factor at first login.")


@staff_page
async def account(request: Request, me, form) -> Response:
    require_role(me, frozenset({"admin"}))
    change = str(form.get("change", ""))
    options = {
        "disable": {"active": False},
        "enable": {"active": True},
        "reset_second_factor": {"reset_second_factor": True},
        "role": {"role": str(form.get("role", ""))},
    }
    if change not in options:
        raise InvalidInput("Unknown change.")
    try:
        async with request.app.state.ctx.sessions() as session:
            await update_staff(session, request.app.state.ctx, me.staff.id, request.path_params["staff_id"], **options[change])
    except InvalidInput as error:
        return await _accounts_page(request, me, problem=error.detail, errors=error.fields, status_code=error.status)
    return RedirectResponse("/staff/admin", status_code=303)


@staff_page
async def team(request: Request, me, form) -> Response:
    """Hand all open cases of a leaving staff member over to another, in one step."""
    require_role(me, MANAGING_ROLES)
    context = {"me": me.staff, "staff": await _staff(request), "assignable": ASSIGNABLE_ROLES, "errors": {}}
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
async def audit_log(request: Request, me, form) -> Response:
    require_role(me, AUDIT_READERS)
    page = int(request.query_params["page"]) if request.query_params.get("page", "").isdigit() else 1
    async with request.app.state.ctx.sessions() as session:
        total = await session.scalar(select(func.count()).select_from(AuditEntry))
        entries = (
            await session.execute(
                select(AuditEntry, Staff.email, Case.reference)
                .outerjoin(Staff, Staff.id == AuditEntry.actor_id)
                .outerjoin(Case, Case.id == AuditEntry.case_id)
                .order_by(AuditEntry.id.desc())
                .limit(AUDIT_PAGE)
                .offset((max(page, 1) - 1) * AUDIT_PAGE)
            )
        ).all()
        # Walking the whole chain costs a pass over the log: only when asked.
        verification = await audit.verify(session) if request.query_params.get("verify") == "1" else None
    return render(
        request,
        "staff/audit.html",
        {"me": me.staff, "entries": entries, "page": page, "pages": max(1, -(-total // AUDIT_PAGE)),
         "verification": verification},
    )
