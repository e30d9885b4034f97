"""The case list, the case file, and the steps taken on a case."""

from urllib.parse import quote

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .. import discipline, escalation, retaliation, workflow
from ..access import CASE_ROLES
from ..caselist import COUNT_LIMIT, PAGE_SIZE, SORTS, Filters, list_cases
from ..casefile import download, open_case, reveal_identity
from ..errors import InvalidInput
from ..models import (
    CATEGORIES,
    DISCIPLINARY_ACTIONS,
    FINDINGS,
    FLAG_RESOLUTIONS,
    PROTECTED_ROLES,
    RETALIATION_FORMS,
    STATUSES,
    SUBJECT_TYPES,
    Case,
    Grant,
    Staff,
)
from ..web import render
from .guard import staff_page
from .session import now


def _filters(request: Request) -> Filters:
    query = request.query_params
    assignee = query.get("assignee", "")
    return Filters(
        status=query.get("status", "") if query.get("status") in STATUSES else "",
        category=query.get("category", "") if query.get("category") in CATEGORIES else "",
        assignee=int(assignee) if assignee.isdigit() else None,
        overdue=query.get("overdue") == "1",
        flagged=query.get("flagged") == "1",
        committee=query.get("queue") == "committee",
        sort=query.get("sort", "received") if query.get("sort") in SORTS else "received",
        page=int(query["page"]) if query.get("page", "").isdigit() else 1,
        page_size=int(query["per_page"]) if query.get("per_page", "").isdigit() else PAGE_SIZE,
    )


async def _assignable(request: Request) -> list[Staff]:
    async with request.app.state.ctx.sessions() as session:
        return list(
            await session.scalars(
                select(Staff).where(Staff.active.is_(True), Staff.role.in_(workflow.ASSIGNABLE_ROLES)).order_by(Staff.email)
            )
        )


@staff_page
async def case_list(request: Request, me, form) -> Response:
    if me.staff.role not in CASE_ROLES:  # an administrator has no cases to see
        return RedirectResponse("/staff/admin", status_code=303)
    filters = _filters(request)
    async with request.app.state.ctx.sessions() as session:
        found = await list_cases(session, me, filters, now(request).date())
    query = {k: v for k, v in request.query_params.items() if k != "page"}
    return render(
        request,
        "staff/cases.html",
        {
            "me": me.staff,
            "rows": found.rows,
            "total": f"more than {COUNT_LIMIT:,}" if found.total > COUNT_LIMIT else f"{found.total:,}",
            "filters": filters,
            "page": found.number,
            "pages": found.pages,
            "query": "&".join(f"{quote(k)}={quote(v)}" for k, v in query.items()),
            "categories": CATEGORIES,
            "statuses": STATUSES,
            "staff": await _assignable(request),
        },
    )


async def _case_page(request: Request, me, *, identity=None, problem=None, errors=None, status_code=200) -> Response:
    reference = request.path_params["reference"]
    async with request.app.state.ctx.sessions() as session:
        casefile = await open_case(session, me, reference, now(request))
    return render(
        request,
        "staff/case.html",
        {
            "me": me.staff,
            "file": casefile,
            "case": casefile.case,
            "categories": CATEGORIES,
            "findings": FINDINGS,
            "actions": DISCIPLINARY_ACTIONS,
            "subject_types": SUBJECT_TYPES,
            "protected_roles": PROTECTED_ROLES,
            "forms": RETALIATION_FORMS,
            "resolutions": FLAG_RESOLUTIONS,
            "staff": await _assignable(request),
            "revealed": identity,
            "problem": problem,
            "errors": errors or {},
            "done": request.query_params.get("done", ""),
        },
        status_code=status_code,
    )


@staff_page
async def case_detail(request: Request, me, form) -> Response:
    return await _case_page(request, me)


async def _acknowledge(session, ctx, me, reference, form):
    await workflow.acknowledge(session, ctx, me, reference, ctx.now())


async def _reply(session, ctx, me, reference, form):
    await workflow.write(session, me, reference, str(form.get("body", "")), note=False, now=ctx.now())


async def _note(session, ctx, me, reference, form):
    await workflow.write(session, me, reference, str(form.get("body", "")), note=True, now=ctx.now())


async def _assign(session, ctx, me, reference, form):
    assignee = str(form.get("assignee", ""))
    if not assignee.isdigit():
        raise InvalidInput(fields={"assignee": "Choose someone."})
    await workflow.assign(session, me, reference, int(assignee), ctx.now())


async def _recuse(session, ctx, me, reference, form):
    await workflow.recuse(session, me, reference, ctx.now())


async def _investigate(session, ctx, me, reference, form):
    await workflow.move(session, me, reference, "investigate", ctx.now())


async def _close(session, ctx, me, reference, form):
    await workflow.move(session, me, reference, "close", ctx.now())


async def _conclude(session, ctx, me, reference, form):
    await workflow.conclude(
        session, me, reference, str(form.get("outcome", "")), str(form.get("narrative", "")),
        str(form.get("root_cause", "")), ctx.now(),
    )


def _staff_id(form, field: str = "staff") -> int:
    value = str(form.get(field, ""))
    if not value.isdigit():
        raise InvalidInput(fields={field: "Choose someone."})
    return int(value)


async def _escalate(session, ctx, me, reference, form):
    await escalation.escalate(session, ctx, me, reference, str(form.get("reason", "")), ctx.now())


async def _return(session, ctx, me, reference, form):
    await escalation.return_to_officer(session, me, reference, str(form.get("instructions", "")), ctx.now())


async def _take_over(session, ctx, me, reference, form):
    await escalation.take_over(session, me, reference, _staff_id(form, "assignee"), ctx.now())


async def _implicate(session, ctx, me, reference, form):
    await escalation.implicate(session, me, reference, _staff_id(form), ctx.now())


async def _override(session, ctx, me, reference, form):
    await escalation.override_grant(session, me, reference, _staff_id(form), str(form.get("reason", "")), ctx.now())


async def _discipline(session, ctx, me, reference, form):
    fields = ("subject", "subject_role", "subject_type", "action", "effective_on", "decided_by", "notes")
    await discipline.record_outcome(session, me, reference, **{f: str(form.get(f, "")) for f in fields}, now=ctx.now())


async def _protect(session, ctx, me, reference, form):
    await retaliation.add_protected_person(
        session, ctx, me, reference, str(form.get("employee_id", "")), str(form.get("name", "")),
        str(form.get("role", "")), ctx.now(),
    )


ACTIONS = {
    "acknowledge": _acknowledge,
    "reply": _reply,
    "note": _note,
    "assign": _assign,
    "recuse": _recuse,
    "investigate": _investigate,
    "conclude": _conclude,
    "close": _close,
    "escalate": _escalate,
    "return": _return,
    "take-over": _take_over,
    "implicate": _implicate,
    "override": _override,
    "discipline": _discipline,
    "protect": _protect,
}


@staff_page
async def case_action(request: Request, me, form) -> Response:
    reference, action = request.path_params["reference"], request.path_params["action"]
    step = ACTIONS.get(action)
    if step is None:
        raise InvalidInput("Unknown action.")
    ctx = request.app.state.ctx
    try:
        async with ctx.sessions() as session:
            await step(session, ctx, me, reference, form)
    except (InvalidInput, workflow.WrongStatus, retaliation.NotConfigured) as error:
        return await _case_page(request, me, problem=error.detail, errors=error.fields, status_code=error.status)
    if action in {"recuse", "implicate", "take-over"}:  # the case may no longer be theirs to see
        async with ctx.sessions() as session:
            still = await session.scalar(select(Grant.id).join(Case, Case.id == Grant.case_id).where(
                Case.reference == reference, Grant.staff_id == me.staff.id))
        if still is None:
            return RedirectResponse("/staff/?done=recused", status_code=303)
    return RedirectResponse(f"/staff/cases/{reference}?done={action}", status_code=303)


@staff_page
async def reveal(request: Request, me, form) -> Response:
    reference = request.path_params["reference"]
    try:
        async with request.app.state.ctx.sessions() as session:
            found = await reveal_identity(session, me, reference, str(form.get("reason", "")), now(request))
    except InvalidInput as error:
        return await _case_page(request, me, problem=error.detail, errors=error.fields, status_code=error.status)
    return await _case_page(request, me, identity=found)


def content_disposition(name: str) -> str:
    """``attachment`` with an ASCII fallback and the exact UTF-8 name (RFC 6266 / 8187)."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in name) or "attachment"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


@staff_page
async def attachment(request: Request, me, form) -> Response:
    reference = request.path_params["reference"]
    async with request.app.state.ctx.sessions() as session:
        found = await download(session, me, reference, request.path_params["attachment_id"], now(request))
    # Never the type the reporter's browser claimed: a download, not a page of ours.
    return Response(
        found.data,
        media_type="application/octet-stream",
        headers={"content-disposition": content_disposition(found.name)},
    )


