"""Key pairs, grants and wrapped private keys.

- A *case* key pair is made per case; its private key is *granted* to each
  reader by sealing it to the reader's public key. A grant is one such box.
- A *staff* private key is kept *wrapped* (SecretBox) under a key derived from
  the staff member's password.
- The *recovery* key pair belongs to the organisation: the public half is on
  the server, the private half lives offline, in the text form made here.
"""

import base64

from nacl.bindings import crypto_box_SEALBYTES
from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.secret import SecretBox

RECOVERY_KEY_PREFIX = "speakup-recovery-key-v1:"
# A grant is GRANT_VERSION (one byte) and the sealed key: 81 bytes. Grants written before the
# version byte are the bare sealed box, 80 bytes; the length tells the two apart, so a later
# format can take the next byte value.
GRANT_VERSION = 1
_BARE_GRANT = PrivateKey.SIZE + crypto_box_SEALBYTES
GRANT_SIZE = 1 + _BARE_GRANT


def new_key_pair() -> PrivateKey:
    return PrivateKey.generate()


def grant(case_key: PrivateKey, grantee: PublicKey) -> bytes:
    """Seal a case private key to one reader, behind the format's version byte."""
    return bytes([GRANT_VERSION]) + SealedBox(grantee).encrypt(bytes(case_key))


def open_grant(sealed: bytes, grantee_key: PrivateKey) -> PrivateKey:
    """Open a grant of this version, or a bare one from before versions.

    Raises ``CryptoError`` if the grant is not for this reader, was altered, or is of an unknown format.
    """
    if len(sealed) == GRANT_SIZE and sealed[0] == GRANT_VERSION:
        sealed = sealed[1:]
    elif len(sealed) != _BARE_GRANT:
        raise CryptoError("not a grant of a known format")
    return PrivateKey(SealedBox(grantee_key).decrypt(sealed))


def wrap(private_key: PrivateKey, wrapping_key: bytes) -> bytes:
    return SecretBox(wrapping_key).encrypt(bytes(private_key))


def unwrap(wrapped: bytes, wrapping_key: bytes) -> PrivateKey:
    """Raises ``CryptoError`` under the wrong wrapping key."""
    return PrivateKey(SecretBox(wrapping_key).decrypt(wrapped))


def export_recovery_key(private_key: PrivateKey) -> str:
    """Text form of the recovery private key, for the offline file."""
    return RECOVERY_KEY_PREFIX + base64.b32encode(bytes(private_key)).decode("ascii").rstrip("=")


def import_recovery_key(text: str) -> PrivateKey:
    """Read the text form back; raises ``ValueError`` when it is not one."""
    text = text.strip()
    if not text.startswith(RECOVERY_KEY_PREFIX):
        raise ValueError("not a Speakup recovery key")
    body = text[len(RECOVERY_KEY_PREFIX) :]
    raw = base64.b32decode(body + "=" * (-len(body) % 8))
    if len(raw) != PrivateKey.SIZE:
        raise ValueError("recovery key has the wrong length")
    return PrivateKey(raw)
