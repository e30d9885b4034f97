"""Sealing what people write and upload into rows of a case."""

import unicodedata
from dataclasses import dataclass

from nacl.public import PublicKey

from crypto import boxes, files

from .errors import InvalidInput, TooLarge
from .models import Attachment
from .settings import Settings

MAX_NAME = 255

# Longest accepted identity field, in characters (``cases/filing.py`` checks them).
IDENTITY_FIELDS = {"name": 200, "contact": 500}
# Every identity box, anonymous or not, is padded to this one size: the JSON of the
# longest identity fits it with each character at its most bytes (a control character
# is escaped to six, ``\u001f``; CJK takes three, emoji four).
IDENTITY_SIZE = boxes.padded_length(len(boxes.json_bytes({f: "\x1f" * n for f, n in IDENTITY_FIELDS.items()})))


def seal_identity(public_key: PublicKey, identity: dict[str, str] | None) -> bytes:
    """The reporter's name and contact ({} when anonymous), in a box of ``IDENTITY_SIZE``."""
    return boxes.seal_json(public_key, identity or {}, size=IDENTITY_SIZE)


@dataclass(frozen=True)
class Upload:
    """A file as received, before encryption. Never written to disk in this form."""

    name: str
    content_type: str
    data: bytes

    def __repr__(self) -> str:  # a name can identify a reporter: keep it out of logs
        return f"Upload(<{len(self.data)} bytes>)"


def clean_filename(name: str) -> str:
    """A name safe to show and to offer for download: no path, no control or format characters."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    # Cc: control characters; Cf: format characters such as the right-to-left
    # override that makes "exe.pdf" look like "fdp.exe".
    name = "".join(c for c in name if unicodedata.category(c) not in {"Cc", "Cf"}).strip(" .")
    if len(name) > MAX_NAME:
        stem, dot, ext = name.rpartition(".")
        ext = ext[:16] if dot and stem else ""
        name = name[: MAX_NAME - len(ext) - 1].rstrip() + ("." + ext if ext else "")
    return name or "attachment"


def describe_size(size: int) -> str:
    """A size limit as people read it: ``10 MB``, ``64 KB``."""
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size:,} bytes"


def check_uploads(uploads: list[Upload], settings: Settings) -> None:
    if len(uploads) > settings.max_attachments:
        raise TooLarge(
            f"At most {settings.max_attachments} files can be attached at a time.",
            fields={"attachments": f"At most {settings.max_attachments} files; choose fewer."},
        )
    for upload in uploads:
        if len(upload.data) > settings.max_attachment_bytes:
            limit = describe_size(settings.max_attachment_bytes)
            raise TooLarge(f"Each file can be at most {limit}.", fields={"attachments": f"Each file can be at most {limit}."})
        if not upload.data:
            raise InvalidInput(fields={"attachments": "One of the files is empty."})


def seal_uploads(public_key: PublicKey, uploads: list[Upload]) -> list[Attachment]:
    """Encrypt each file under a fresh key and seal the key and metadata to the case.

    CPU-bound for large files: callers run it in a worker thread.
    """
    attachments = []
    for upload in uploads:
        key = files.new_file_key()
        meta = {
            "name": clean_filename(upload.name),
            "content_type": upload.content_type or "application/octet-stream",
            "size": len(upload.data),
            "key": key.hex(),
        }
        attachments.append(Attachment(meta_box=boxes.seal_json(public_key, meta), blob=files.encrypt(key, upload.data)))
    return attachments
