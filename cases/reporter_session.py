"""The reporter's session: what the reporter's pages carry from one page to the next.

Every reporter form answers with a redirect to a page (post/redirect/get), so a
reload repeats a GET, never an act. The page after the redirect must still open
the case, and the receipt must never travel in a URL, so after the receipt is
accepted once, its derived keys (the lookup id and the reporter's private key,
plus a hash that spots the receipt pasted into a message) travel in a cookie,
sealed (XSalsa20-Poly1305) under the installation's session key together with
an expiry. The server stores nothing of it: no row, no time. A cookie that does
not open (tampered, from another installation, or expired) is no session at all.

The receipt page after filing gets the receipt the same way, in a cookie of
its own that the page reads once and clears.
"""

import base64
import hashlib
import struct
from dataclasses import dataclass
from datetime import datetime, timedelta

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey
from nacl.secret import SecretBox

# The session ends after this long without a page (renewed by each page), or with the browser,
# and at the latest this long after the receipt was entered: a copied cookie cannot be kept
# alive for ever by fetching a page now and then.
IDLE = timedelta(minutes=30)
LONGEST = timedelta(hours=2)
# The receipt page must follow its redirect at once; a cookie left behind soon opens nothing.
RECEIPT_HANDOFF = timedelta(minutes=5)

# What each sealed cookie starts with, so that one kind can never be read as the other.
_SESSION, _RECEIPT = b"S", b"R"
_HEADER = struct.Struct(">cQ")  # kind, expiry (seconds since the epoch)
_KEYS = struct.Struct(">Q32s32s16s16s")  # end of the session, lookup id, private key, receipt check, last message sent
CHECK_BYTES = 16


def case_tag(key: bytes, keys: "ReporterKeys") -> str:
    """What each form of the mailbox page carries to say which report it belongs to: the cookie is
    the browser's, so a page left open in one tab would otherwise send into the report opened since
    in another. Keyed under the session key, so it tells nothing outside the session."""
    return hashlib.blake2b(keys.lookup_id, key=key, digest_size=16, person=b"speakup-case-tag").hexdigest()


def receipt_check(normalised_receipt: str) -> bytes:
    """A hash of the normalised receipt: enough to recognise it pasted in a message, no more.
    It lives only inside the sealed cookie and in memory."""
    return hashlib.blake2b(normalised_receipt.encode("ascii"), digest_size=CHECK_BYTES, person=b"speakup-receipt").digest()


@dataclass(frozen=True)
class ReporterKeys:
    """What a receipt derives: the lookup id that finds the case, the private key that opens the
    reporter's grant, and the check that recognises the receipt in a message."""

    lookup_id: bytes
    private_key: PrivateKey
    receipt_check: bytes

    def __repr__(self) -> str:  # never print the reporter's key
        return "ReporterKeys(...)"


@dataclass(frozen=True)
class Session:
    keys: ReporterKeys
    # When the session ends whatever happens (seconds since the epoch; 0: LONGEST from now).
    ends: int = 0
    # A hash of the last message sent in this session (zeros: none), so a form sent again
    # with the browser's Back button is recognised and not filed twice.
    last_sent: bytes = bytes(CHECK_BYTES)
    # What the next page says once (a key of the pages' notices): carried across the redirect,
    # not in the URL, where it would tell the browser's history what the reporter did.
    notice: str = ""

    def __repr__(self) -> str:
        return f"Session(notice={self.notice!r})"


def _seal(key: bytes, kind: bytes, expires: datetime, body: bytes) -> str:
    sealed = SecretBox(key).encrypt(_HEADER.pack(kind, int(expires.timestamp())) + body)
    return base64.urlsafe_b64encode(bytes(sealed)).decode("ascii").rstrip("=")


def _open(key: bytes, kind: bytes, token: str | None, now: datetime) -> bytes | None:
    if not token or len(token) > 512:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        plain = SecretBox(key).decrypt(raw)
    except (ValueError, CryptoError):  # not base64, too short, tampered, or sealed under another key
        return None
    if len(plain) < _HEADER.size:
        return None
    found, expires = _HEADER.unpack_from(plain)
    if found != kind or expires <= now.timestamp():
        return None
    return plain[_HEADER.size :]


def seal_session(key: bytes, session: Session, now: datetime) -> str:
    """The cookie's value: the session, good for ``IDLE`` from ``now``."""
    keys = session.keys
    ends = session.ends or int((now + LONGEST).timestamp())
    body = _KEYS.pack(ends, keys.lookup_id, bytes(keys.private_key), keys.receipt_check, session.last_sent)
    expires = min(now + IDLE, datetime.fromtimestamp(ends, now.tzinfo))
    return _seal(key, _SESSION, expires, body + session.notice.encode("ascii"))


def open_session(key: bytes, token: str | None, now: datetime) -> Session | None:
    """The session a cookie holds, or None when it does not open or has expired."""
    body = _open(key, _SESSION, token, now)
    if body is None or len(body) < _KEYS.size:
        return None
    ends, lookup_id, private, check, last_sent = _KEYS.unpack_from(body)
    try:
        notice = body[_KEYS.size :].decode("ascii")
    except UnicodeDecodeError:
        return None
    return Session(ReporterKeys(lookup_id, PrivateKey(private), check), ends, last_sent, notice)


def seal_receipt(key: bytes, receipt: str, now: datetime) -> str:
    """The receipt, sealed for the one page that shows it."""
    return _seal(key, _RECEIPT, now + RECEIPT_HANDOFF, receipt.encode("ascii"))


def open_receipt(key: bytes, token: str | None, now: datetime) -> str | None:
    body = _open(key, _RECEIPT, token, now)
    return None if body is None else body.decode("ascii", errors="replace")
