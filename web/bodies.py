"""Reading request bodies: JSON objects, and forms whose files stay in memory.

Starlette's form parser spools uploads larger than 1 MB to a temporary file;
an attachment is plaintext until it is sealed, and plaintext must never reach
the disk, so files here stay in memory up to the per-file limit. The whole
body is bounded by ``BodyLimit`` (``web/middleware.py``), so memory per request is too.
A file over the limit is dropped (not the whole form), so the page can come
back with everything the reporter typed and say which file was too large.

Every field is bounded before any work is done on it. A JSON body is read up
to a limit of its route's own (a receipt alone needs a few hundred bytes; a
report or a message without files, ``JSON_TEXT_BYTES``), is refused unread
beyond it, holds at most ``MAX_JSON_VALUES`` values nested at most
``MAX_JSON_DEPTH`` deep, and is parsed (like base64 attachments are decoded)
in a worker thread when it is large, so the event loop never waits on it.
"""

import asyncio
import base64
import binascii
import json
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from python_multipart.exceptions import FormParserError
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser
from starlette.requests import Request

from cases.content import Upload, describe_size
from cases.errors import InvalidInput, TooLarge
from cases.settings import Settings

from .errors import InvalidJSON, MalformedBody, UnsupportedMediaType

# A report's or a message's text, every character \u-escaped (12 bytes for one outside the
# Basic Multilingual Plane), fits in this with room to spare; only files make a body larger.
JSON_TEXT_BYTES = 512 * 1024
# A body of a receipt and a few small values (follow-up, check-ins).
JSON_SMALL_BYTES = 4 * 1024
# Objects, arrays and commas together: no body of ours holds more, even text made only of commas.
MAX_JSON_VALUES = 64 * 1024
MAX_JSON_DEPTH = 20
# Bodies and files above this are parsed or decoded in a worker thread, not on the event loop.
INLINE_BYTES = 64 * 1024
# Database ids, page numbers and the like: 1 to 10 ASCII digits, within a PostgreSQL integer.
MAX_ID = 2**31 - 1
# A urlencoded form carries no file; its text fits in this.
MAX_URLENCODED_BYTES = 1024 * 1024


class _InMemoryMultiPartParser(MultiPartParser):
    def __init__(self, *args: Any, max_file_size: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.spool_max_size = max_file_size  # SpooledTemporaryFile rolls over to disk only beyond this
        self.max_file_size = max_file_size
        self.sizes: dict[int, int] = {}
        self.oversize: set[int] = set()

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self._current_part
        if part.file is not None:
            key = id(part.file)
            self.sizes[key] = self.sizes.get(key, 0) + end - start
            if self.sizes[key] > self.max_file_size:
                self.oversize.add(key)
                return
        super().on_part_data(data, start, end)


@dataclass
class SubmittedForm:
    fields: dict[str, str]
    uploads: list[Upload] = field(default_factory=list)
    oversize: list[str] = field(default_factory=list)

    def get(self, name: str, default: str = "") -> str:
        return self.fields.get(name, default)


async def _at_most(stream: AsyncIterator[bytes], limit: int) -> AsyncGenerator[bytes, None]:
    size = 0
    async for chunk in stream:
        size += len(chunk)
        if size > limit:
            raise TooLarge()
        yield chunk


async def read_form(request: Request, settings: Settings) -> SubmittedForm:
    content_type = request.headers.get("content-type", "")
    parser: FormParser | _InMemoryMultiPartParser
    try:
        if content_type.startswith("multipart/form-data"):
            parser = _InMemoryMultiPartParser(
                request.headers,
                request.stream(),
                max_files=max(4 * settings.max_attachments, 20),
                max_fields=100,
                max_part_size=256 * 1024,
                max_file_size=settings.max_attachment_bytes,
            )
        elif content_type.startswith("application/x-www-form-urlencoded"):
            parser = FormParser(request.headers, _at_most(request.stream(), MAX_URLENCODED_BYTES))
        else:
            raise UnsupportedMediaType("Send this form from the page.")
        form = await parser.parse()
    except (MultiPartException, FormParserError, KeyError):
        raise MalformedBody() from None

    result = SubmittedForm(fields={})
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            if not value.filename and not value.size:
                continue  # the empty part a browser sends for an unused file input
            if id(value) in getattr(parser, "oversize", ()):
                result.oversize.append(value.filename or "a file")
            else:
                data = await value.read()
                result.uploads.append(Upload(value.filename or "", value.content_type or "", data))
            await value.close()
        else:
            result.fields.setdefault(name, value)
    return result


def check_oversize(form: SubmittedForm, settings: Settings) -> None:
    if form.oversize:
        names = ", ".join(form.oversize)
        limit = describe_size(settings.max_attachment_bytes)
        raise TooLarge(fields={"attachments": f"Too large (over {limit}), not attached: {names}."})


def as_id(value: object) -> int | None:
    """The whole number in ``value`` (a form field, a query parameter), or None if it is not one we accept.

    Only ASCII digits: ``str.isdigit()`` is True for "١٢" (which int() reads as 12) and for "²"
    (which int() refuses). At most ``MAX_ID``, which every integer column holds.
    """
    if not isinstance(value, str) or not (0 < len(value) <= 10 and value.isascii() and value.isdigit()):
        return None
    number = int(value)
    return number if number <= MAX_ID else None


def json_id(value: object) -> int | None:
    """A JSON id: a whole number from 1 to ``MAX_ID`` (``1.0`` too: JSON Schema calls it an integer), else None."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID:
        return value
    return None


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused with ``TooLarge`` as soon as it passes ``limit`` bytes (or says it will)."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and (len(declared) > 18 or int(declared) > limit):
        raise TooLarge()
    return b"".join([chunk async for chunk in _at_most(request.stream(), limit)])


def _check_text(text: str) -> None:
    # A JSON \ud800 escape gives a lone surrogate, which no text can be encoded with.
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidJSON("The body holds text that is not valid Unicode (a lone surrogate).") from None


def _check_values(data: Any) -> None:
    """Refuse nesting deeper than ``MAX_JSON_DEPTH`` and text that is not valid Unicode (no recursion)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            _check_text(value)
        elif isinstance(value, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise InvalidJSON(f"The body is nested more than {MAX_JSON_DEPTH} deep.")
            if isinstance(value, dict):
                for key in value:
                    _check_text(key)
            stack.extend((item, depth + 1) for item in (value.values() if isinstance(value, dict) else value))


def _parse_json(body: bytes, text_limit: int | None, max_values: int) -> dict[str, Any]:
    """Parse a JSON object within the bounds; CPU work, so run in a thread when the body is large."""
    if text_limit is not None and len(body) > text_limit and b'"attachments"' not in body:
        raise TooLarge(f"Without attachments, a body is at most {describe_size(text_limit)}.")
    if body.count(b",") + body.count(b"[") + body.count(b"{") > max_values:
        raise InvalidJSON("The body holds more values than any request needs.")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise InvalidJSON() from None
    if not isinstance(data, dict):
        raise InvalidJSON()
    _check_values(data)
    if text_limit is not None and len(body) > text_limit and not data.get("attachments"):
        raise TooLarge(f"Without attachments, a body is at most {describe_size(text_limit)}.")
    return data


async def read_json(
    request: Request, *, limit: int = JSON_SMALL_BYTES, attachments: bool = False, max_values: int = MAX_JSON_VALUES
) -> dict[str, Any]:
    """The body's JSON object, at most ``limit`` bytes and ``max_values`` objects, arrays and commas.

    ``attachments``: the route takes files, so a body may be as large as the
    request limit (``BodyLimit``) when it has ``attachments``; without them,
    ``limit`` still holds.
    """
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise UnsupportedMediaType("Send the body as application/json.")
    body = await _read_body(request, request.app.state.ctx.settings.max_request_bytes if attachments else limit)
    text_limit = limit if attachments else None
    if len(body) > INLINE_BYTES:
        return await asyncio.to_thread(_parse_json, body, text_limit, max_values)
    return _parse_json(body, text_limit, max_values)


def _decode(items: list[tuple[str, str, str]]) -> list[Upload]:
    uploads = []
    for index, (name, content_type, data) in enumerate(items):
        try:
            uploads.append(Upload(name, content_type, base64.b64decode(data, validate=True)))
        except (binascii.Error, ValueError):
            raise InvalidInput(fields={f"attachments[{index}]": "data is not valid base64."}) from None
    return uploads


async def json_uploads(value: Any, settings: Settings) -> list[Upload]:
    """The API's ``attachments``: ``[{"name", "content_type"?, "data": base64}]``.

    Counted and measured before anything is decoded; large files are decoded in a worker thread.
    """
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInput(fields={"attachments": "Must be a list of files."})
    if len(value) > settings.max_attachments:
        raise TooLarge(
            f"At most {settings.max_attachments} files can be attached at a time.",
            fields={"attachments": f"At most {settings.max_attachments} files; choose fewer."},
        )
    # base64 is 4 characters for every 3 bytes: anything longer decodes to more than a file may hold.
    longest = -(-settings.max_attachment_bytes // 3) * 4
    items = []
    for index, item in enumerate(value):
        where = f"attachments[{index}]"
        if not isinstance(item, dict) or set(item) - {"name", "content_type", "data"}:
            raise InvalidInput(fields={where: "Give name, content_type and base64 data."})
        name, content_type, data = item.get("name"), item.get("content_type", ""), item.get("data")
        if not isinstance(name, str) or not isinstance(content_type, str) or not isinstance(data, str):
            raise InvalidInput(fields={where: "name, content_type and data must be text."})
        if len(data) > longest:
            limit = describe_size(settings.max_attachment_bytes)
            raise TooLarge(f"Each file can be at most {limit}.", fields={"attachments": f"Each file can be at most {limit}."})
        items.append((name, content_type, data))
    if sum(len(data) for _, _, data in items) > INLINE_BYTES:
        return await asyncio.to_thread(_decode, items)
    return _decode(items)


async def read_small_form(request: Request) -> FormData:
    """A staff page's form, file-less: at most ``MAX_URLENCODED_BYTES`` and 50 fields, read before any login check
    (login, logout) as after it. Any other body reads as an empty form, which then fails its CSRF check."""
    content_type = request.headers.get("content-type", "")
    stream = _at_most(request.stream(), MAX_URLENCODED_BYTES)
    parser: FormParser | MultiPartParser
    if content_type.startswith("application/x-www-form-urlencoded"):
        parser = FormParser(request.headers, stream)
    elif content_type.startswith("multipart/form-data"):
        parser = MultiPartParser(request.headers, stream, max_files=0, max_fields=50)
    else:
        return FormData()
    try:
        form = await parser.parse()
    except (MultiPartException, FormParserError, KeyError):
        raise MalformedBody() from None
    if len(form) > 50:
        raise MalformedBody()
    return form
