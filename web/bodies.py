"""Reading request bodies: JSON objects, and forms whose files stay in memory.

Starlette's form parser spools uploads larger than 1 MB to a temporary file;
an attachment is plaintext until it is sealed, and plaintext must never reach
the disk, so files here stay in memory up to the per-file limit. The whole
body is bounded by ``BodyLimit`` (``web/middleware.py``), so memory per request is too.
A file over the limit is dropped (not the whole form), so the page can come
back with everything the reporter typed and say which file was too large.
"""

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from python_multipart.exceptions import FormParserError
from starlette.datastructures import UploadFile
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser
from starlette.requests import Request

from cases.content import Upload, describe_size
from cases.errors import InvalidInput, TooLarge
from cases.settings import Settings

from .errors import InvalidJSON, MalformedBody, UnsupportedMediaType


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
            parser = FormParser(request.headers, request.stream())
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


async def read_json(request: Request) -> dict[str, Any]:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise UnsupportedMediaType("Send the body as application/json.")
    try:
        data = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        raise InvalidJSON() from None
    if not isinstance(data, dict):
        raise InvalidJSON()
    return data


def json_uploads(value: Any) -> list[Upload]:
    """The API's ``attachments``: ``[{"name", "content_type"?, "data": base64}]``."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInput(fields={"attachments": "Must be a list of files."})
    uploads = []
    for index, item in enumerate(value):
        where = f"attachments[{index}]"
        if not isinstance(item, dict) or set(item) - {"name", "content_type", "data"}:
            raise InvalidInput(fields={where: "Give name, content_type and base64 data."})
        name, content_type, data = item.get("name"), item.get("content_type", ""), item.get("data")
        if not isinstance(name, str) or not isinstance(content_type, str) or not isinstance(data, str):
            raise InvalidInput(fields={where: "name, content_type and data must be text."})
        try:
            uploads.append(Upload(name, content_type, base64.b64decode(data, validate=True)))
        except (binascii.Error, ValueError):
            raise InvalidInput(fields={where: "data is not valid base64."}) from None
    return uploads
