"""The HR adverse-actions API: HR systems post actions; Speakup flags hits on protected persons.

Authenticated by a bearer token from the settings. The answer is the same
whatever matched, and it is sent once the batch is read and checked, before any
row is matched: matching (and the flags a hit opens) happens after the answer,
so neither what HR reads nor how long it waits tells it who is protected. A
server that dies in between loses that batch's matching; importing a row again
opens no second flag, so HR can always send its export again.
"""

import hashlib
import secrets

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cases.errors import InvalidInput, TooLarge
from cases.health import readiness
from cases.retaliation import NotConfigured, import_adverse_actions, parse_adverse_actions
from web.bodies import read_json
from web.errors import Unauthorized, Unavailable

# One request's batch: at most this many rows, in at most this many bytes of JSON.
MAX_ACTIONS = 10_000
MAX_BODY_BYTES = 2 * 1024 * 1024


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
    data = await read_json(request, limit=MAX_BODY_BYTES, max_values=16 * MAX_ACTIONS)
    if set(data) != {"actions"} or not isinstance(data["actions"], list):
        raise InvalidInput(fields={"actions": 'Send {"actions": [{"employee_id", "action", "date"}, ...]}.'})
    if len(data["actions"]) > MAX_ACTIONS:
        raise TooLarge(fields={"actions": f"At most {MAX_ACTIONS:,} actions per request; send the rest in another."})
    if not all(isinstance(row, dict) for row in data["actions"]):
        raise InvalidInput(fields={"actions": "Each action is an object."})
    actions = parse_adverse_actions(data["actions"])
    # Answered before matching, the batch would be lost silently with the database down: say so
    # instead (a 503 HR can retry). The check is the same whatever the rows hold.
    if not (await readiness(ctx, schema=False))[0]:
        raise Unavailable()

    async def match() -> None:
        async with ctx.sessions() as session:
            await import_adverse_actions(session, ctx, actions, ctx.today())

    return JSONResponse({"checked": len(actions)}, background=BackgroundTask(match))
