"""OpenAPI 3.1 description of the intake API, served at /api/v1/openapi.json."""

from typing import NamedTuple

from cases.errors import InvalidInput, InvalidReceipt, NotInitialised, SpeakupError, TooLarge, UnknownReceipt
from cases.filing import FOREIGN_OFFICIAL, IDENTITY_FIELDS, TEXT_FIELDS
from cases.follow_up import MAX_MESSAGE, REPORTER_STATUS, TEAM_WORDS
from cases.kdf_pool import Busy
from cases.minutes import MAX_MINUTES
from cases.retaliation import NotConfigured
from cases.vocabulary import CATEGORIES, CHANNELS, MEETING_KINDS, MINUTES_ANSWERS, RETALIATION_FORMS
from crypto.receipts import MAX_TYPED
from web.bodies import MAX_ID
from web.errors import (
    Conflict,
    InvalidJSON,
    MethodNotAllowed,
    NotFound,
    ServerError,
    Unauthorized,
    Unavailable,
    UnsupportedMediaType,
)


class ApiError(NamedTuple):
    """An error the API answers: the HTTP status, the ``error`` code, and when it comes."""

    status: int
    code: str
    when: str


def _of(error: type[SpeakupError], when: str) -> ApiError:
    return ApiError(error.status, error.code, when)


# Every error the API answers, taken from the error classes so a status or code cannot drift.
# Any operation: the body, the storage, the unexpected.
BODY_ERRORS = (
    _of(InvalidJSON, "the body is not a JSON object"),
    _of(UnsupportedMediaType, "the body is not application/json"),
    _of(TooLarge, "the body or a file is too large"),
    _of(InvalidInput, "a field is missing or wrong; `fields` names each"),
    _of(NotInitialised, "the channel has not been set up yet; nothing was saved"),
    _of(Unavailable, "storage is unavailable; nothing was saved"),
    _of(Conflict, "another request changed the same rows at the same moment; nothing was saved, try again"),
    _of(ServerError, "something failed on the server's side"),
)
# Operations that take a receipt.
RECEIPT_ERRORS = (
    _of(InvalidReceipt, "the receipt is not 16 letters and digits"),
    _of(UnknownReceipt, "no report has this receipt"),
    _of(Busy, "the server is checking too many receipts at once; try again after Retry-After seconds, nothing was lost"),
)
# The HR API (the staff face's machine API, described here so /api/v1 has one document).
HR_ERRORS = (
    _of(Unauthorized, "the bearer token is missing or wrong"),
    _of(NotConfigured, "the HR API or the protected-persons register is turned off"),
)
# A path or a method the API does not have.
ROUTING_ERRORS = (
    _of(NotFound, "there is no such path"),
    _of(MethodNotAllowed, "the path does not take this method"),
)
ERRORS = (*BODY_ERRORS, *RECEIPT_ERRORS, *HR_ERRORS, *ROUTING_ERRORS)


def _text(limit: int, description: str) -> dict:
    return {"type": "string", "maxLength": limit, "description": description}


def _required_text(limit: int, description: str) -> dict:
    # Not blank: surrounding spaces are trimmed, and nothing left is an error.
    return {**_text(limit, description), "minLength": 1, "pattern": NOT_BLANK}


# Something that is not white space, as Python's str.strip() sees it (which also strips
# the separators U+001C-U+001F and U+0085 that a JSON Schema \s leaves alone).
NOT_BLANK = r"[^\s\u001c-\u001f\u0085]"
BLANK = r"^[\s\u001c-\u001f\u0085]*$"
# 16 symbols of Crockford base32 (I, L and O are read as 1, 1 and 0; U is not a symbol),
# with any hyphens or spaces between them, in any case.
RECEIPT = {
    "type": "string",
    "pattern": r"^[\s-]*(?:[0-9A-TV-Za-tv-z][\s-]*){16}$",
    "maxLength": MAX_TYPED,
    "description": f"Case, hyphens and spaces do not matter; at most {MAX_TYPED} characters in all.",
    "example": "7KQ4-M2XD-9PZA-HN3F",
}


def _body(schema: str) -> dict:
    return {"required": True, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


def _errors(*errors: ApiError) -> dict:
    """An operation's error responses: one per status, naming (and allowing) only that status's codes."""
    by_status: dict[int, list[ApiError]] = {}
    for error in errors:
        by_status.setdefault(error.status, []).append(error)
    return {
        str(status): {
            "description": " ".join(f"`{error.code}`: {error.when}." for error in group),
            "content": {
                "application/json": {
                    "schema": {
                        "allOf": [
                            {"$ref": "#/components/schemas/Error"},
                            {"properties": {"error": {"enum": [error.code for error in group]}}},
                        ]
                    }
                }
            },
        }
        for status, group in sorted(by_status.items())
    }


def _codes_by_status() -> str:
    by_status: dict[int, list[str]] = {}
    for error in ERRORS:
        by_status.setdefault(error.status, []).append(f"`{error.code}`")
    return "; ".join(f"{status} {', '.join(codes)}" for status, codes in sorted(by_status.items()))


_ATTACHMENTS = {
    "type": "array",
    "description": "Files, each at most the configured size (10 MB by default), at most 5 per request by default.",
    "maxItems": 5,
    "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "data"],
        "properties": {
            "name": {"type": "string"},
            "content_type": {"type": "string"},
            "data": {
                "type": "string",
                "contentEncoding": "base64",
                "minLength": 4,
                "maxLength": 1_000_000,
                "pattern": r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$",
            },
        },
    },
}

_DATE = {"type": "string", "format": "date"}
_FILE_INFO = {"type": "object", "properties": {"name": {"type": "string"}, "size": {"type": "integer"}}}

SPEC = {
    "openapi": "3.1.0",
    "info": {
        "title": "Speakup intake API",
        "version": "1",
        "description": (
            "File a report for a reporter (for example one taken by phone), follow it up with its receipt, "
            "and add messages, files or a retaliation notice. Nothing here stops anyone from reporting "
            "to the SEC, the DOJ or another authority. The receipt travels in request bodies only."
        ),
    },
    "paths": {
        "/api/v1/reports": {
            "post": {
                "operationId": "fileReport",
                "summary": "File a report; answers with the receipt once the report is stored.",
                "requestBody": _body("Report"),
                "responses": {
                    "201": {
                        "description": "Stored. Give the receipt to the reporter: it cannot be shown again.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["receipt"],
                                    "properties": {"receipt": {"type": "string", "example": "7KQ4-M2XD-9PZA-HN3F"}},
                                }
                            }
                        },
                    },
                    **_errors(*BODY_ERRORS),
                },
            }
        },
        "/api/v1/follow-up": {
            "post": {
                "operationId": "followUp",
                "summary": "Read a report's status, deadlines and messages with its receipt.",
                "requestBody": _body("ReceiptOnly"),
                "responses": {
                    "200": {
                        "description": "The reporter's view of the case.",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Mailbox"}}},
                    },
                    **_errors(*BODY_ERRORS, *RECEIPT_ERRORS),
                },
            }
        },
        "/api/v1/follow-up/messages": {
            "post": {
                "operationId": "sendMessage",
                "summary": "Add a message and/or files from the reporter; `retaliation` flags it.",
                "requestBody": _body("ReporterMessage"),
                "responses": {
                    "201": {
                        "description": "Stored.",
                        "content": {
                            "application/json": {"schema": {"type": "object", "properties": {"sent": {"type": "boolean"}}}}
                        },
                    },
                    **_errors(*BODY_ERRORS, *RECEIPT_ERRORS),
                },
            }
        },
        "/api/v1/follow-up/check-ins": {
            "post": {
                "operationId": "answerCheckIn",
                "summary": "Answer a post-closure check-in: has the reporter faced retaliation? Yes opens a flag.",
                "requestBody": _body("CheckInAnswer"),
                "responses": {
                    "201": {
                        "description": "Recorded.",
                        "content": {
                            "application/json": {"schema": {"type": "object", "properties": {"answered": {"type": "boolean"}}}}
                        },
                    },
                    **_errors(*BODY_ERRORS, *RECEIPT_ERRORS),
                },
            }
        },
        "/api/v1/follow-up/minutes": {
            "post": {
                "operationId": "answerMinutes",
                "summary": "Confirm or correct minutes of a call or meeting with the reporter (EU Art. 18); answered once.",
                "requestBody": _body("MinutesAnswer"),
                "responses": {
                    "201": {
                        "description": "Recorded with the minutes, with its day only.",
                        "content": {
                            "application/json": {"schema": {"type": "object", "properties": {"answered": {"type": "boolean"}}}}
                        },
                    },
                    **_errors(*BODY_ERRORS, *RECEIPT_ERRORS),
                },
            }
        },
        "/api/v1/hr/adverse-actions": {
            "post": {
                "operationId": "importAdverseActions",
                "summary": "HR: submit adverse actions (Bearer token). The answer never says whether anything matched.",
                "security": [{"hrToken": []}],
                "requestBody": _body("AdverseActions"),
                "responses": {
                    "200": {
                        "description": "Checked.",
                        "content": {
                            "application/json": {"schema": {"type": "object", "properties": {"checked": {"type": "integer"}}}}
                        },
                    },
                    **_errors(*BODY_ERRORS, *HR_ERRORS),
                },
            }
        },
    },
    "components": {
        "securitySchemes": {"hrToken": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error", "detail"],
                "properties": {
                    "error": {
                        "type": "string",
                        "enum": sorted({error.code for error in ERRORS}),
                        "description": "A stable code; by status: " + _codes_by_status() + ".",
                    },
                    "detail": {"type": "string"},
                    "fields": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            },
            "Report": {
                "type": "object",
                "additionalProperties": False,
                "required": ["category", "summary", "details"],
                "properties": {
                    "category": {"type": "string", "enum": list(CATEGORIES)},
                    "summary": _required_text(TEXT_FIELDS["summary"], "What happened, in one sentence."),
                    "details": _required_text(TEXT_FIELDS["details"], "What happened, in full."),
                    "occurred_on": _text(TEXT_FIELDS["occurred_on"], "When, as exactly as known."),
                    "country": _text(TEXT_FIELDS["country"], "Where."),
                    "people": _text(TEXT_FIELDS["people"], "People involved and their roles."),
                    "amount": _text(TEXT_FIELDS["amount"], "Amounts and currency."),
                    "how_known": _text(TEXT_FIELDS["how_known"], "How the reporter knows."),
                    "foreign_official_involved": {
                        "type": ["string", "boolean"],
                        "enum": [*FOREIGN_OFFICIAL, True, False],
                        "default": "unknown",
                        "description": "Is a foreign official or state-owned enterprise involved?",
                    },
                    "concerns_leadership": {
                        "type": "boolean",
                        "default": False,
                        "description": "Concerns senior management: the Compliance Officer, the CFO, the CEO, "
                        "any other officer or any director. Routed to the Audit Committee only.",
                    },
                    "channel": {
                        "type": "string",
                        "enum": list(CHANNELS),
                        "default": "web",
                        "description": "How the report came in: "
                        + "; ".join(f"`{code}` {label.lower()}" for code, label in CHANNELS.items())
                        + ". Staff see it on the case.",
                    },
                    "identity": {
                        "type": ["object", "null"],
                        "additionalProperties": False,
                        "description": "null for an anonymous report; a name or a contact (or both) for a confidential one.",
                        "properties": {f: {"type": "string", "maxLength": n} for f, n in IDENTITY_FIELDS.items()},
                        "anyOf": [
                            {"type": "null"},
                            {"type": "object", "required": ["name"], "properties": {"name": {"pattern": NOT_BLANK}}},
                            {"type": "object", "required": ["contact"], "properties": {"contact": {"pattern": NOT_BLANK}}},
                        ],
                    },
                    "attachments": _ATTACHMENTS,
                },
            },
            "CheckInAnswer": {
                "type": "object",
                "additionalProperties": False,
                "required": ["receipt", "check_in", "retaliation"],
                "properties": {
                    "receipt": RECEIPT,
                    "check_in": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                    "retaliation": {"type": "boolean"},
                },
            },
            "AdverseActions": {
                "type": "object",
                "additionalProperties": False,
                "required": ["actions"],
                "properties": {
                    "actions": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["employee_id", "action", "date"],
                            "properties": {
                                "employee_id": {"type": "string", "pattern": NOT_BLANK},
                                "action": {"type": "string", "enum": list(RETALIATION_FORMS)},
                                "date": {"type": "string", "format": "date"},
                            },
                        },
                    }
                },
            },
            "MinutesAnswer": {
                "type": "object",
                "additionalProperties": False,
                "required": ["receipt", "minutes", "answer"],
                "description": "`confirmed` with no correction, or `corrected` with the reporter's correction "
                "(not blank); anything else is `invalid_input`.",
                "properties": {
                    "receipt": RECEIPT,
                    "minutes": {"type": "integer", "minimum": 1, "maximum": MAX_ID, "description": "The minutes' number."},
                    "answer": {"type": "string", "enum": list(MINUTES_ANSWERS)},
                    "correction": {"type": "string", "maxLength": MAX_MINUTES},
                },
                # A correction to send, or none at all to confirm (white space alone is none).
                "if": {"properties": {"answer": {"const": "corrected"}}},
                "then": {"required": ["correction"], "properties": {"correction": {"pattern": NOT_BLANK}}},
                "else": {"properties": {"correction": {"pattern": BLANK}}},
            },
            "ReceiptOnly": {
                "type": "object",
                "additionalProperties": False,
                "required": ["receipt"],
                "properties": {"receipt": RECEIPT},
            },
            "ReporterMessage": {
                "type": "object",
                "additionalProperties": False,
                "required": ["receipt"],
                "description": "A message, files, or both.",
                "properties": {
                    "receipt": RECEIPT,
                    "body": {"type": "string", "maxLength": MAX_MESSAGE},
                    "retaliation": {"type": "boolean", "default": False, "description": "I am facing retaliation."},
                    "attachments": _ATTACHMENTS,
                },
                "anyOf": [
                    {"required": ["body"], "properties": {"body": {"pattern": NOT_BLANK}}},
                    {"required": ["attachments"], "properties": {"attachments": {"minItems": 1}}},
                ],
            },
            "Mailbox": {
                "type": "object",
                "required": ["status", "received_on", "acknowledge_by", "feedback_by", "report", "messages"],
                "properties": {
                    "status": {"type": "string", "enum": sorted(set(REPORTER_STATUS.values()))},
                    "routing": {
                        "type": "string",
                        "enum": list(TEAM_WORDS),
                        "description": "Who reads the report: the Compliance Officer, or the Audit Committee only.",
                    },
                    "closed_on": {"type": ["string", "null"], "format": "date"},
                    "feedback_given_on": {
                        "type": ["string", "null"],
                        "format": "date",
                        "description": "The day a reply was given as the feedback; `feedback_by` is met.",
                    },
                    "received_on": _DATE,
                    "acknowledged_on": {"type": ["string", "null"], "format": "date"},
                    "acknowledge_by": _DATE,
                    "feedback_by": _DATE,
                    "report": {"type": "object", "description": "The reporter's own fields (never their identity)."},
                    "attachments": {"type": "array", "items": _FILE_INFO},
                    "check_ins": {
                        "type": "array",
                        "description": "Post-closure questions awaiting an answer (see /api/v1/follow-up/check-ins).",
                        "items": {
                            "type": "object",
                            "properties": {"id": {"type": "integer"}, "days_after_closure": {"type": "integer"}},
                        },
                    },
                    "minutes": {
                        "type": "array",
                        "description": "Minutes of calls and meetings with the reporter (see /api/v1/follow-up/minutes).",
                        "items": {
                            "type": "object",
                            "properties": {
                                "number": {"type": "integer"},
                                "kind": {"type": "string", "enum": list(MEETING_KINDS)},
                                "held_on": _DATE,
                                "text": {"type": "string"},
                                "answer": {"type": ["string", "null"], "enum": [*MINUTES_ANSWERS, None]},
                                "answered_on": {"type": ["string", "null"], "format": "date"},
                                "correction": {"type": "string"},
                            },
                        },
                    },
                    "messages": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "from": {"type": "string", "enum": ["reporter", "staff", "system"]},
                                "body": {"type": "string"},
                                "sent_on": _DATE,
                                "retaliation": {"type": "boolean"},
                                "attachments": {"type": "array", "items": _FILE_INFO},
                            },
                        },
                    },
                },
            },
        },
    },
}
