"""Errors only the web layer meets: a body it cannot read, a forged form, no login, a database gone."""

from cases.errors import SpeakupError


class InvalidJSON(SpeakupError):
    code = "invalid_json"
    detail = "The body is not a JSON object."


class UnsupportedMediaType(SpeakupError):
    status = 415
    code = "unsupported_media_type"
    detail = "Send this request as the form or as application/json."


class CsrfFailed(SpeakupError):
    status = 403
    code = "csrf_failed"
    detail = "This form has expired. Go back, reload the page and send it again; nothing was saved."


class Unavailable(SpeakupError):
    """The database is down, cut off or too slow (``web.handlers.database_unavailable``)."""

    status = 503
    code = "unavailable"
    retry_after = 30
    detail = "The channel cannot store reports right now. Nothing was saved; please try again in a few minutes."


class Conflict(SpeakupError):
    """Two requests changed the same rows at once and the database chose one (a deadlock or a
    serialisation failure): nothing of this one was saved, and trying again is safe."""

    status = 409
    code = "conflict"
    detail = "Someone changed this at the same moment. Nothing was saved: reload and try again."


class MalformedBody(SpeakupError):
    code = "malformed_body"
    detail = "The form data could not be read. Nothing was saved; please send it again."


class NotLoggedIn(SpeakupError):
    status = 401
    code = "not_logged_in"
    detail = "Log in to continue; sessions end after 30 idle minutes."


class NotFound(SpeakupError):
    status = 404
    code = "not_found"
    detail = "There is no page here."


class MethodNotAllowed(SpeakupError):
    status = 405
    code = "method_not_allowed"
    detail = "This address does not take that method."


class ServerError(SpeakupError):
    status = 500
    code = "internal_error"
    detail = "Something went wrong on our side. Nothing you sent was shown to anyone."


class Unauthorized(SpeakupError):
    status = 401
    code = "unauthorized"
    detail = "Send the token as 'Authorization: Bearer <token>'."
