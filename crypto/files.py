"""Attachment encryption: a random key per file, secretstream in chunks.

The file key itself is sealed to the case (with the file's name, type and true
size) by the caller. Plaintext is zero-padded to a ``boxes.padded_length``
before encryption; the true size in the sealed metadata tells the reader where
the file ends. The final chunk carries the FINAL tag, so a truncated or
reordered ciphertext fails to open instead of yielding a shorter file.

Format version. A file is ``VERSION`` (one byte, now 1) followed by the
secretstream header and chunks. Files written before the version byte existed
(version 0) start straight with the header, 24 random bytes, so their first
byte may be anything. As for boxes (``crypto/boxes.py``), authentication tells
them apart: a file that starts with a known version byte is read as that
version if its first chunk authenticates that way, and as version 0 if not.
A version 1 file never reads as version 0 (the version byte would shift the
header and every chunk, and the first tag fails).
"""

from collections.abc import Iterable, Iterator

from nacl import bindings as sodium
from nacl.exceptions import CryptoError

from .boxes import VERSION, padded_length

CHUNK = 64 * 1024
_HEADER = sodium.crypto_secretstream_xchacha20poly1305_HEADERBYTES
_ABYTES = sodium.crypto_secretstream_xchacha20poly1305_ABYTES
_MESSAGE = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
_FINAL = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL
_VERSION_BYTE = bytes([VERSION])


def new_file_key() -> bytes:
    return sodium.crypto_secretstream_xchacha20poly1305_keygen()


def _padded_chunks(data: bytes) -> Iterator[bytes]:
    total = padded_length(len(data))
    padded = memoryview(data.ljust(total, b"\0"))
    for start in range(0, total, CHUNK):
        yield bytes(padded[start : start + CHUNK])


def encrypt(file_key: bytes, data: bytes) -> bytes:
    """Encrypt a whole file (padded) into header + tagged chunks."""
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    out = [_VERSION_BYTE, sodium.crypto_secretstream_xchacha20poly1305_init_push(state, file_key)]
    chunks = list(_padded_chunks(data))
    for index, chunk in enumerate(chunks):
        tag = _FINAL if index == len(chunks) - 1 else _MESSAGE
        out.append(sodium.crypto_secretstream_xchacha20poly1305_push(state, chunk, tag=tag))
    return b"".join(out)


def _start(file_key: bytes, blob: bytes) -> int:
    """Where the secretstream header starts: after the version byte, or at 0 for version 0."""
    if blob[:1] == _VERSION_BYTE and len(blob) > 1 + _HEADER:
        state = sodium.crypto_secretstream_xchacha20poly1305_state()
        try:
            sodium.crypto_secretstream_xchacha20poly1305_init_pull(state, blob[1 : 1 + _HEADER], file_key)
            sodium.crypto_secretstream_xchacha20poly1305_pull(state, blob[1 + _HEADER : 1 + _HEADER + CHUNK + _ABYTES])
            return 1
        except CryptoError:
            pass  # a version 0 file whose header starts with this byte
    return 0


def decrypt_chunks(file_key: bytes, blob: bytes, size: int) -> Iterable[bytes]:
    """Yield the plaintext of ``blob`` chunk by chunk, cut to the true ``size``.

    Reads this version and version 0 (see the module docstring). Raises
    ``CryptoError`` on a wrong key, an altered chunk, or a missing end.
    """
    if len(blob) < _HEADER:
        raise CryptoError("attachment ciphertext too short")
    start = _start(file_key, blob)
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    sodium.crypto_secretstream_xchacha20poly1305_init_pull(state, blob[start : start + _HEADER], file_key)
    remaining = size
    position = start + _HEADER
    finished = False
    while position < len(blob):
        if finished:
            raise CryptoError("data after the final chunk")
        piece = blob[position : position + CHUNK + _ABYTES]
        position += len(piece)
        chunk, tag = sodium.crypto_secretstream_xchacha20poly1305_pull(state, piece)
        finished = tag == _FINAL
        if remaining > 0:
            yield chunk[:remaining]
            remaining -= min(remaining, len(chunk))
    if not finished:
        raise CryptoError("attachment ciphertext truncated")


def decrypt(file_key: bytes, blob: bytes, size: int) -> bytes:
    return b"".join(decrypt_chunks(file_key, blob, size))
