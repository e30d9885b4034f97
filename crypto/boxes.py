"""Sealed boxes with padded lengths.

Every piece of case content is sealed (X25519 + XSalsa20-Poly1305, anonymous
sender) to the case's public key, so anyone may add content to a case and only
holders of the case private key can read it. Plaintexts are padded first
(ISO/IEC 7816-4 through ``sodium_pad``) to at least ``MIN_PADDED`` bytes and
above that to a Padmé length, so a ciphertext's size does not tell a one-line
note from a page, and a large one leaks at most ~12% of its length's detail.
A caller that must hide even that (the reporter's identity: anonymous or not)
pads to one fixed ``size`` instead.

Format version. A box is ``VERSION`` (one byte, now 1) followed by the sealed
box. Boxes written before the version byte existed (version 0) are the bare
sealed box, whose first byte is the first byte of a random ephemeral public
key: any value, 1 included, so the first byte alone cannot tell the two apart.
The authentication tag does: a box that starts with a known version byte is
opened as that version, and if that fails to authenticate it is opened as a
version 0 box (one that happened to start with that byte, 1 in 256 of them).
A version 1 box never opens as version 0 (its first byte would be taken as
part of the ephemeral key, and the tag fails), so reading is unambiguous and
no stored data had to be rewritten. A later format takes the next byte value
and is tried the same way.
"""

import json
from typing import Any

from nacl.bindings import sodium_pad, sodium_unpad
from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox

MIN_PADDED = 1024
VERSION = 1
_VERSION_BYTE = bytes([VERSION])


def padme(length: int) -> int:
    """Padmé (Nikitin et al., PURBs, 2019): round up, keeping O(log log n) bits of length."""
    if length < 2:
        return length
    exponent = length.bit_length() - 1
    low_bits = exponent - exponent.bit_length()
    mask = (1 << low_bits) - 1
    return (length + mask) & ~mask


def padded_length(length: int) -> int:
    """The size ``pad`` turns a plaintext of ``length`` bytes into."""
    return max(MIN_PADDED, padme(length + 1))


def pad(data: bytes, size: int | None = None) -> bytes:
    """Pad to ``padded_length``, or to exactly ``size`` (``ValueError`` if the data does not fit)."""
    if size is None:
        return sodium_pad(data, padded_length(len(data)))
    if len(data) >= size:
        raise ValueError(f"{len(data)} bytes do not fit a fixed box of {size}")
    return sodium_pad(data, size)


def unpad(data: bytes) -> bytes:
    return sodium_unpad(data, len(data))


def seal(public_key: PublicKey, plaintext: bytes, *, size: int | None = None) -> bytes:
    """A version byte and the padded plaintext sealed to ``public_key`` (``size``: see ``pad``)."""
    return _VERSION_BYTE + SealedBox(public_key).encrypt(pad(plaintext, size))


def unseal(private_key: PrivateKey, box: bytes) -> bytes:
    """Open a box of this version or of version 0 (no version byte; see the module docstring).

    Raises ``CryptoError`` if the box was not sealed to this key or was altered.
    """
    opener = SealedBox(private_key)
    if box[:1] == _VERSION_BYTE:
        try:
            return unpad(opener.decrypt(box[1:]))
        except CryptoError:
            pass  # a version 0 box whose ephemeral key starts with this byte
    return unpad(opener.decrypt(box))


def json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def seal_json(public_key: PublicKey, value: Any, *, size: int | None = None) -> bytes:
    return seal(public_key, json_bytes(value), size=size)


def unseal_json(private_key: PrivateKey, box: bytes) -> Any:
    return json.loads(unseal(private_key, box))
