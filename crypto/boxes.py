"""Sealed boxes with padded lengths.

Every piece of case content is sealed (X25519 + XSalsa20-Poly1305, anonymous
sender) to the case's public key, so anyone may add content to a case and only
holders of the case private key can read it. Plaintexts are padded first
(ISO/IEC 7816-4 through ``sodium_pad``) to at least ``MIN_PADDED`` bytes and
above that to a Padmé length, so a ciphertext's size does not tell a one-line
note from a page, and a large one leaks at most ~12% of its length's detail.
"""

import json
from typing import Any

from nacl.bindings import sodium_pad, sodium_unpad
from nacl.public import PrivateKey, PublicKey, SealedBox

MIN_PADDED = 1024


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


def pad(data: bytes) -> bytes:
    return sodium_pad(data, padded_length(len(data)))


def unpad(data: bytes) -> bytes:
    return sodium_unpad(data, len(data))


def seal(public_key: PublicKey, plaintext: bytes) -> bytes:
    return SealedBox(public_key).encrypt(pad(plaintext))


def unseal(private_key: PrivateKey, box: bytes) -> bytes:
    """Raises ``CryptoError`` if the box was not sealed to this key or was altered."""
    return unpad(SealedBox(private_key).decrypt(box))


def seal_json(public_key: PublicKey, value: Any) -> bytes:
    return seal(public_key, json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def unseal_json(private_key: PrivateKey, box: bytes) -> Any:
    return json.loads(unseal(private_key, box))
