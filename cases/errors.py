"""Typed domain errors. Each face maps them once: to a JSON error or to a page.

Each carries a stable machine ``code`` (the API's ``error`` field), the HTTP
``status`` it stands for, a human ``detail``, and for form input the
per-field messages in ``fields``. Errors that only the web layer can meet
(a bad form, a missing login) live in ``web/errors.py``.
"""


class SpeakupError(Exception):
    status = 400
    code = "bad_request"
    detail = "The request could not be understood."
    retry_after: int | None = None  # seconds, for a refusal that passes (a 503, say)

    def __init__(self, detail: str | None = None, *, fields: dict[str, str] | None = None) -> None:
        super().__init__(detail or self.detail)
        self.detail = detail or self.detail
        self.fields = fields or {}


class InvalidInput(SpeakupError):
    status = 422
    code = "invalid_input"
    detail = "Some fields need another look."


class NeedsConfirmation(InvalidInput):
    """Allowed, but probably a mistake (a details text of a few characters, the receipt pasted
    into a message): the form comes back with a warning, everything kept, and "Send anyway"."""

    detail = "Please check this before it is sent."


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


class NotInitialised(SpeakupError):
    status = 503
    code = "not_initialised"
    detail = "This channel has not been set up yet (run `speakup init`)."


class NoSuchCase(SpeakupError):
    status = 404
    code = "not_found"
    detail = "There is no such case, or you hold no grant for it."


class Forbidden(SpeakupError):
    status = 403
    code = "forbidden"
    detail = "Your role does not allow this."


class WrongStatus(SpeakupError):
    status = 409
    code = "wrong_status"
    detail = "The case is not in a status that allows this."
