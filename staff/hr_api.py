"""The HR adverse-actions API: HR systems post actions; Speakup flags hits on protected persons.

Authenticated by a bearer token from the settings. The answer is the same
whatever matched, so HR never learns who is protected.
"""

import hashlib
import secrets

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cases.errors import InvalidInput
from cases.retaliation import NotConfigured, import_adverse_actions, parse_adverse_actions
from web.errors import InvalidJSON, Unauthorized


def _check_token(request: Request) -> None:
    expected = request.app.state.ctx.settings.hr_api_token
    if not expected:
        raise NotConfigured("The HR API is off: set SPEAKUP_HR_API_TOKEN to turn it on.")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    # Compare digests, so the comparison takes the same time whatever the length.
    if scheme.lower() != "bearer" or not secrets.compare_digest(
        hashlib.sha256(given.encode()).digest(), hashlib.sha256(expected.encode()).digest()
    ):
        raise Unauthorized("Send the HR token as 'Authorization: Bearer <token>'.")


async def adverse_actions(request: Request) -> Response:
    _check_token(request)
    ctx = request.app.state.ctx
    try:
        data = await request.json()
    except ValueError:
        raise InvalidJSON() from None
    if not isinstance(data, dict) or set(data) != {"actions"} or not isinstance(data["actions"], list):
        raise InvalidInput(fields={"actions": 'Send {"actions": [{"employee_id", "action", "date"}, ...]}.'})
    if not all(isinstance(row, dict) for row in data["actions"]):
        raise InvalidInput(fields={"actions": "Each action is an object."})
    actions = parse_adverse_actions(data["actions"])
    async with ctx.sessions() as session:
        checked = await import_adverse_actions(session, ctx, actions, ctx.now().date())
    return JSONResponse({"checked": checked})
