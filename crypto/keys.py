"""Key pairs, grants and wrapped private keys.

- A *case* key pair is made per case; its private key is *granted* to each
  reader by sealing it to the reader's public key. A grant is one such box.
- A *staff* private key is kept *wrapped* (SecretBox) under a key derived from
  the staff member's password.
- The *recovery* key pair belongs to the organisation: the public half is on
  the server, the private half lives offline, in the text form made here.
"""

import base64

from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.secret import SecretBox

RECOVERY_KEY_PREFIX = "speakup-recovery-key-v1:"


def new_key_pair() -> PrivateKey:
    return PrivateKey.generate()


def grant(case_key: PrivateKey, grantee: PublicKey) -> bytes:
    """Seal a case private key to one reader."""
    return SealedBox(grantee).encrypt(bytes(case_key))


def open_grant(sealed: bytes, grantee_key: PrivateKey) -> PrivateKey:
    """Raises ``CryptoError`` if the grant is not for this reader or was altered."""
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
