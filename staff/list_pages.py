"""The administrator's lists for coding cases (business units, countries): one page, post/redirect/get."""

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from cases import lists
from cases.errors import InvalidInput
from cases.identity import Identity
from web.bodies import as_id
from web.render import render

from .guard import staff_page
from .session import now

# What each button of the page does, and the word the page says after it (``?done=``).
DONE = {"add": "Added.", "rename": "Renamed.", "retire": "Retired: no longer offered.", "reactivate": "Reactivated."}


async def _page(request: Request, me: Identity, error: InvalidInput | None = None) -> Response:
    async with request.app.state.ctx.sessions() as session:
        found = await lists.entries(session, me)
    context = {
        "me": me.staff,
        "lists": found,
        "notice": "" if error else DONE.get(request.query_params.get("done", ""), ""),
        "problem": error.detail if error else None,
        "errors": error.fields if error else {},
    }
    return render(request, "staff/lists.html", context, status_code=error.status if error else 200)


def _entry(form: FormData) -> int:
    entry = as_id(form.get("entry"))
    if entry is None:
        raise InvalidInput(fields={"entry": "There is no such entry."})
    return entry


def _label(form: FormData) -> str:
    value = str(form.get("label", ""))
    if "\x00" in value:
        raise InvalidInput(fields={"label": "Remove the NUL character."})
    return value


@staff_page
async def list_entries(request: Request, me: Identity, form: FormData | None) -> Response:
    if form is None:
        return await _page(request, me)
    change = str(form.get("change", ""))
    if change not in DONE:
        raise InvalidInput("Unknown change.")
    try:
        async with request.app.state.ctx.sessions() as session:
            if change == "add":
                await lists.add(session, me, str(form.get("kind", "")), _label(form), now(request))
            elif change == "rename":
                await lists.rename(session, me, _entry(form), _label(form), now(request))
            else:
                await lists.set_active(session, me, _entry(form), change == "reactivate", now(request))
    except InvalidInput as error:
        return await _page(request, me, error)
    return RedirectResponse(request.url_for("staff:lists").path + f"?done={change}", status_code=303)
