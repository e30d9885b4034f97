"""Argon2id derivations: one run gives two independent keys.

A receipt gives a lookup id (stored, so the server can find the case) and the
seed of the reporter's key pair (never stored). A staff password gives a login
verifier (stored) and the key that wraps the staff private key (never stored).
Each is the two halves of one 64-byte Argon2id output, so knowing the stored
half tells nothing about the other.
"""

import unicodedata
from dataclasses import dataclass

from nacl.public import PrivateKey
from nacl.pwhash import argon2id

SALT_BYTES = argon2id.SALTBYTES
_HALF = 32


@dataclass(frozen=True)
class Argon2Params:
    """Cost of one derivation. The defaults are libsodium's INTERACTIVE level."""

    opslimit: int = argon2id.OPSLIMIT_INTERACTIVE
    memlimit: int = argon2id.MEMLIMIT_INTERACTIVE

    def __post_init__(self) -> None:
        if self.opslimit < argon2id.OPSLIMIT_MIN or self.memlimit < argon2id.MEMLIMIT_MIN:
            raise ValueError(f"Argon2id needs opslimit >= {argon2id.OPSLIMIT_MIN} and memlimit >= {argon2id.MEMLIMIT_MIN}")


def _derive(secret: bytes, salt: bytes, params: Argon2Params) -> tuple[bytes, bytes]:
    out = argon2id.kdf(2 * _HALF, secret, salt, opslimit=params.opslimit, memlimit=params.memlimit)
    return out[:_HALF], out[_HALF:]


@dataclass(frozen=True)
class ReceiptKeys:
    lookup_id: bytes
    private_key: PrivateKey

    def __repr__(self) -> str:  # never print the reporter's key
        return f"ReceiptKeys(lookup_id={self.lookup_id.hex()[:8]}...)"


def receipt_keys(normalised_receipt: str, salt: bytes, params: Argon2Params) -> ReceiptKeys:
    """Lookup id and reporter key pair for a normalised receipt."""
    lookup_id, seed = _derive(normalised_receipt.encode("ascii"), salt, params)
    return ReceiptKeys(lookup_id=lookup_id, private_key=PrivateKey.from_seed(seed))


@dataclass(frozen=True)
class PasswordKeys:
    verifier: bytes
    wrapping_key: bytes

    def __repr__(self) -> str:
        return "PasswordKeys(...)"


def password_keys(password: str, salt: bytes, params: Argon2Params) -> PasswordKeys:
    """Login verifier and key-wrapping key for a staff password."""
    # NFC so that the same password typed on two keyboards derives the same keys.
    verifier, wrapping_key = _derive(unicodedata.normalize("NFC", password).encode("utf-8"), salt, params)
    return PasswordKeys(verifier=verifier, wrapping_key=wrapping_key)
