"""Typed domain errors. ``asgi.py`` maps them once to JSON or to an HTML page.

Each carries a stable machine ``code`` (the API's ``error`` field), the HTTP
``status`` it stands for, a human ``detail``, and for form input the
per-field messages in ``fields``.
"""


class SpeakupError(Exception):
    status = 400
    code = "bad_request"
    detail = "The request could not be understood."

    def __init__(self, detail: str | None = None, *, fields: dict[str, str] | None = None) -> None:
        super().__init__(detail or self.detail)
        self.detail = detail or self.detail
        self.fields = fields or {}


class InvalidInput(SpeakupError):
    status = 422
    code = "invalid_input"
    detail = "Some fields need another look."


class InvalidJSON(SpeakupError):
    code = "invalid_json"
    detail = "The body is not a JSON object."


class UnsupportedMediaType(SpeakupError):
    status = 415
    code = "unsupported_media_type"
    detail = "Send this request as the form or as application/json."


class InvalidReceipt(SpeakupError):
    code = "invalid_receipt"
    detail = "A receipt is 16 letters and digits, like 7KQ4-M2XD-9PZA-HN3F."


class UnknownReceipt(SpeakupError):
    status = 404
    code = "unknown_receipt"
    detail = "No report matches this receipt. Check it and try again."


class TooLarge(SpeakupError):
    status = 413
    code = "too_large"
    detail = "The request is larger than this channel accepts."


class CsrfFailed(SpeakupError):
    status = 403
    code = "csrf_failed"
    detail = "This form has expired. Go back, reload the page and send it again; nothing was saved."


class NotInitialised(SpeakupError):
    status = 503
    code = "not_initialised"
    detail = "This channel has not been set up yet (run `speakup init`)."


class Unavailable(SpeakupError):
    status = 503
    code = "unavailable"
    detail = "The channel cannot store reports right now. Nothing was saved; please try again in a few minutes."


class MalformedBody(SpeakupError):
    code = "malformed_body"
    detail = "The form data could not be read. Nothing was saved; please send it again."


class NotLoggedIn(SpeakupError):
    status = 401
    code = "not_logged_in"
    detail = "Log in to continue; sessions end after 30 idle minutes."
