"""The case list, the case file, and the steps taken on a case."""

from collections.abc import Awaitable, Callable
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from cases import discipline, disclosure, done, escalation, lifecycle, minutes, remediation, retaliation, steps, workflow
from cases.access import holds
from cases.casefile import download, open_case, reveal_identity
from cases.caselist import COUNT_LIMIT, PAGE_SIZE, SORTS, Filters, list_cases, with_summaries
from cases.content import Upload, describe_size
from cases.context import Context
from cases.errors import InvalidInput, SpeakupError, TooLarge, WrongStatus
from cases.grants import unheld_alarm
from cases.identity import Identity
from cases.vocabulary import CASE_ROLES, CATEGORIES, COMMITTEE_ROLES, STATUSES
from web.bodies import as_id, check_oversize
from web.render import render

from .guard import FilesForm, staff_page, staff_upload_page
from .session import now


def _filters(request: Request) -> Filters:
    query = request.query_params
    # A value that is not a plain whole number (Unicode digits, 25 digits) is ignored, as an unknown one is.
    page, per_page = as_id(query.get("page")), as_id(query.get("per_page"))
    return Filters(
        status=query.get("status", "") if query.get("status") in STATUSES else "",
        category=query.get("category", "") if query.get("category") in CATEGORIES else "",
        assignee=as_id(query.get("assignee")),
        overdue=query.get("overdue") == "1",
        flagged=query.get("flagged") == "1",
        committee=query.get("queue") == "committee",
        sort=query.get("sort", "received") if query.get("sort") in SORTS else "received",
        page=1 if page is None else page,
        page_size=PAGE_SIZE if per_page is None else per_page,
        summaries=query.get("summaries") != "0",
    )


@staff_page
async def case_list(request: Request, me: Identity, form: FormData | None) -> Response:
    if me.staff.role not in CASE_ROLES:  # an administrator has no cases to see
        return RedirectResponse(request.url_for("staff:accounts").path, status_code=303)
    filters = _filters(request)
    async with request.app.state.ctx.sessions() as session:
        found = await list_cases(session, me, filters, now(request).date())
    rows = found.rows
    if filters.summaries:  # decrypted for this page's rows only, and logged
        async with request.app.state.ctx.sessions() as session:
            rows = await with_summaries(session, me, found.rows, now(request))
    async with request.app.state.ctx.sessions() as session:
        staff = await workflow.assignable(session)
    unheld: list[str] = []
    if me.staff.role in COMMITTEE_ROLES:
        async with request.app.state.ctx.sessions() as session:
            unheld = await unheld_alarm(session, me)
    query = {k: v for k, v in request.query_params.items() if k != "page"}
    return render(
        request,
        "staff/cases.html",
        {
            "me": me.staff,
            "rows": rows,
            "total": f"more than {COUNT_LIMIT:,}" if found.total > COUNT_LIMIT else f"{found.total:,}",
            "filters": filters,
            "page": found.number,
            "pages": found.pages,
            "query": "&".join(f"{quote(k)}={quote(v)}" for k, v in query.items()),
            "staff": staff,
            "unheld": unheld,
        },
    )


async def _case_page(
    request: Request, me: Identity, *, error: SpeakupError | None = None, action: str = "", values: FormData | None = None
) -> Response:
    reference = request.path_params["reference"]
    async with request.app.state.ctx.sessions() as session:
        casefile = await open_case(session, me, reference, now(request))
    context = {
        "me": me.staff,
        "file": casefile,
        "case": casefile.case,
        "problem": error.detail if error else None,
        "errors": error.fields if error else {},
        # A refused form shows again with what was typed (the closing message, say), not emptied.
        "refused": action,
        "values": values if values is not None else {},
        # The redirect after a step names it; the words come from the case as it now stands.
        "done": "" if error else done.after(request.query_params.get("done", ""), casefile),
        # A reply carries files within the reporter's own limits.
        "max_attachments": request.app.state.ctx.settings.max_attachments,
        "max_attachment_size": describe_size(request.app.state.ctx.settings.max_attachment_bytes),
    }
    return render(request, "staff/case.html", context, status_code=error.status if error else 200)


@staff_page
async def case_detail(request: Request, me: Identity, form: FormData | None) -> Response:
    return await _case_page(request, me)


def _text(form: FormData, field: str) -> str:
    value = str(form.get(field, ""))
    if "\x00" in value:  # no text column of PostgreSQL stores it (a reason, say, is kept in the audit log)
        raise InvalidInput(fields={field: "Remove the NUL character."})
    return value


def _staff_id(form: FormData, field: str) -> int:
    value = as_id(form.get(field))
    if value is None:
        raise InvalidInput(fields={field: "Choose someone."})
    return value


def _uploads(form: FormData, ctx: Context) -> list[Upload]:
    """A reply's files (only the reply's own route reads them: ``staff_upload_page``)."""
    if not isinstance(form, FilesForm):
        return []
    check_oversize(form.submitted, ctx.settings)
    return form.submitted.uploads


def _number(form: FormData, field: str) -> int:
    value = as_id(form.get(field))
    if value is None:
        raise InvalidInput(fields={field: "Choose one."})
    return value


def _assessment(form: FormData) -> lifecycle.AssessmentDraft:
    return lifecycle.AssessmentDraft.parse(
        allegations=[str(code) for code in form.getlist("allegations")],
        **{f: _text(form, f) for f in lifecycle.ASSESSMENT_FIELDS},
    )


Step = Callable[[AsyncSession, Context, Identity, str, FormData], Awaitable[object]]

# Every step of cases/steps.py that a form on the case page posts (all but reading the case).
ACTIONS: dict[str, Step] = {
    "acknowledge": lambda s, ctx, me, ref, form: workflow.acknowledge(s, ctx, me, ref, ctx.now()),
    "reply": lambda s, ctx, me, ref, form: workflow.write(
        s,
        me,
        ref,
        _text(form, "body"),
        note=False,
        now=ctx.now(),
        feedback=form.get("feedback") == "yes",
        uploads=_uploads(form, ctx),
        settings=ctx.settings,
    ),
    "note": lambda s, ctx, me, ref, form: workflow.write(s, me, ref, _text(form, "body"), note=True, now=ctx.now()),
    "assign": lambda s, ctx, me, ref, form: workflow.assign(s, me, ref, _staff_id(form, "assignee"), ctx.now()),
    "recuse": lambda s, ctx, me, ref, form: workflow.recuse(s, me, ref, ctx.now()),
    "investigate": lambda s, ctx, me, ref, form: workflow.move(s, me, ref, "investigate", ctx.now()),
    "conclude": lambda s, ctx, me, ref, form: workflow.conclude(
        s,
        me,
        ref,
        workflow.FindingDraft.parse(
            _text(form, "outcome"), _text(form, "narrative"), _text(form, "root_cause"), _text(form, "root_cause_explanation")
        ),
        ctx.now(),
    ),
    "assess": lambda s, ctx, me, ref, form: lifecycle.assess(s, ctx, me, ref, _assessment(form), ctx.now()),
    "link": lambda s, ctx, me, ref, form: lifecycle.link(
        s, ctx, me, ref, _text(form, "other_case"), _text(form, "link_kind"), ctx.now()
    ),
    "close": lambda s, ctx, me, ref, form: lifecycle.close(
        s, ctx, me, ref, lifecycle.ClosureDraft.parse(**{f: _text(form, f) for f in lifecycle.CLOSURE_FIELDS}), ctx.now()
    ),
    "escalate": lambda s, ctx, me, ref, form: escalation.escalate(s, ctx, me, ref, _text(form, "reason"), ctx.now()),
    "return": lambda s, ctx, me, ref, form: escalation.return_to_officer(s, me, ref, _text(form, "instructions"), ctx.now()),
    "take-over": lambda s, ctx, me, ref, form: escalation.take_over(s, me, ref, _staff_id(form, "assignee"), ctx.now()),
    "implicate": lambda s, ctx, me, ref, form: escalation.implicate(s, me, ref, _staff_id(form, "staff"), ctx.now()),
    "override": lambda s, ctx, me, ref, form: escalation.override_grant(
        s, me, ref, _staff_id(form, "staff"), _text(form, "reason"), ctx.now()
    ),
    "discipline": lambda s, ctx, me, ref, form: discipline.record_outcome(
        s, me, ref, discipline.Outcome.parse(**{f: _text(form, f) for f in discipline.OUTCOME_FIELDS}), ctx.now()
    ),
    "disclose": lambda s, ctx, me, ref, form: disclosure.disclose(
        s,
        me,
        ref,
        disclosure.DisclosureDraft.parse(
            _text(form, "recipient"), _text(form, "basis"), _text(form, "explanation"), form.get("withhold") == "yes"
        ),
        ctx.now(),
    ),
    "minutes": lambda s, ctx, me, ref, form: minutes.record_minutes(
        s,
        me,
        ref,
        minutes.MinutesDraft.parse(_text(form, "kind"), _text(form, "held_on"), _text(form, "text"), ctx.today()),
        ctx.now(),
    ),
    "protect": lambda s, ctx, me, ref, form: retaliation.add_protected_person(
        s, ctx, me, ref, _text(form, "employee_id"), _text(form, "name"), _text(form, "role"), ctx.now()
    ),
    "remediate": lambda s, ctx, me, ref, form: remediation.add_action(
        s,
        me,
        ref,
        remediation.ActionDraft.parse(_text(form, "what"), _text(form, "owner"), _text(form, "due_on"), ctx.today()),
        ctx.now(),
    ),
    "update-remediation": lambda s, ctx, me, ref, form: remediation.update_action(
        s, me, ref, _number(form, "number"), _text(form, "status"), _text(form, "evidence"), ctx.now()
    ),
}


@staff_page
async def case_action(request: Request, me: Identity, form: FormData | None) -> Response:
    assert form is not None  # a POST
    return await _act(request, me, request.path_params["action"], form)


@staff_upload_page
async def reply(request: Request, me: Identity, form: FormData | None) -> Response:
    """A reply to the reporter: the one case form that may carry files."""
    assert form is not None
    return await _act(request, me, "reply", form)


async def _act(request: Request, me: Identity, action: str, form: FormData) -> Response:
    reference = request.path_params["reference"]
    step = ACTIONS.get(action)
    if step is None:
        raise InvalidInput("Unknown action.")
    ctx = request.app.state.ctx
    try:
        steps.check_confirmed(steps.STEPS[action], form.get(steps.CONFIRM_FIELD))
        async with ctx.sessions() as session:
            await step(session, ctx, me, reference, form)
    except (InvalidInput, TooLarge, WrongStatus, retaliation.NotConfigured, lifecycle.UnknownOther) as error:
        return await _case_page(request, me, error=error, action=action, values=form)
    async with ctx.sessions() as session:
        still_held = await holds(session, me, reference)
    if not still_held:  # recused, implicated or taken over: the case is no longer theirs to see
        return RedirectResponse(request.url_for("staff:cases").path + "?done=recused", status_code=303)
    return RedirectResponse(request.url_for("staff:case", reference=reference).path + f"?done={action}", status_code=303)


@staff_page
async def reveal(request: Request, me: Identity, form: FormData | None) -> Response:
    """Reveal, then redirect: the case page shows the identity to this staff member for a while
    (cases/casefile.py REVEAL_WINDOW), so a reload neither reveals nor logs it again."""
    reference = request.path_params["reference"]
    try:
        async with request.app.state.ctx.sessions() as session:
            await reveal_identity(session, me, reference, _text(form or FormData(), "reason"), now(request))
    except InvalidInput as error:
        return await _case_page(request, me, error=error)
    return RedirectResponse(request.url_for("staff:case", reference=reference).path + "?done=reveal", status_code=303)


def content_disposition(name: str) -> str:
    """``attachment`` with an ASCII fallback and the exact UTF-8 name (RFC 6266 / 8187)."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in name) or "attachment"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


@staff_page
async def attachment(request: Request, me: Identity, form: FormData | None) -> Response:
    reference = request.path_params["reference"]
    async with request.app.state.ctx.sessions() as session:
        found = await download(session, me, reference, request.path_params["number"], now(request))
    # Never the type the reporter's browser claimed: a download, not a page of ours.
    return Response(
        found.data,
        media_type="application/octet-stream",
        headers={"content-disposition": content_disposition(found.name)},
    )
