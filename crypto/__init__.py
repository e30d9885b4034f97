"""Pure cryptographic functions for Speakup (libsodium through PyNaCl).

Nothing here does I/O or imports the rest of Speakup: callers pass keys, salts
and parameters in, and get bytes or key objects back. Every failure to open a
box raises ``nacl.exceptions.CryptoError`` (re-exported as ``CryptoError``).
"""

from nacl.exceptions import CryptoError

__all__ = ["CryptoError"]
