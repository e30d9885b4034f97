"""Attachment encryption: a random key per file, secretstream in chunks.

The file key itself is sealed to the case (with the file's name, type and true
size) by the caller. Plaintext is zero-padded to a ``boxes.padded_length``
before encryption; the true size in the sealed metadata tells the reader where
the file ends. The final chunk carries the FINAL tag, so a truncated or
reordered ciphertext fails to open instead of yielding a shorter file.
"""

from collections.abc import Iterable, Iterator

from nacl import bindings as sodium
from nacl.exceptions import CryptoError

from .boxes import padded_length

CHUNK = 64 * 1024
_HEADER = sodium.crypto_secretstream_xchacha20poly1305_HEADERBYTES
_ABYTES = sodium.crypto_secretstream_xchacha20poly1305_ABYTES
_MESSAGE = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
_FINAL = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL


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
    out = [sodium.crypto_secretstream_xchacha20poly1305_init_push(state, file_key)]
    chunks = list(_padded_chunks(data))
    for index, chunk in enumerate(chunks):
        tag = _FINAL if index == len(chunks) - 1 else _MESSAGE
        out.append(sodium.crypto_secretstream_xchacha20poly1305_push(state, chunk, tag=tag))
    return b"".join(out)


def decrypt_chunks(file_key: bytes, blob: bytes, size: int) -> Iterable[bytes]:
    """Yield the plaintext of ``blob`` chunk by chunk, cut to the true ``size``.

    Raises ``CryptoError`` on a wrong key, an altered chunk, or a missing end.
    """
    if len(blob) < _HEADER:
        raise CryptoError("attachment ciphertext too short")
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    sodium.crypto_secretstream_xchacha20poly1305_init_pull(state, blob[:_HEADER], file_key)
    remaining = size
    position = _HEADER
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
