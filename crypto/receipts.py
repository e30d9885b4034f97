"""Receipt codes: the one secret an anonymous reporter keeps to come back.

A receipt is 16 symbols of Crockford base32, 5 random bits each (80 bits from
``secrets``), shown in groups of four: ``7KQ4-M2XD-9PZA-HN3F``. People copy it
by hand, read it over a phone line or paste it from a note, so reading it back
forgives case, hyphens (and their typographic cousins), spaces, and the
look-alike letters Crockford's alphabet leaves out (I and L read as 1, O as 0).
"""

import secrets
import unicodedata

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SYMBOLS = 16
GROUP = 4
BITS = SYMBOLS * 5

_LOOKALIKES = str.maketrans({"I": "1", "L": "1", "O": "0"})


class MalformedReceipt(ValueError):
    """The text cannot be a receipt (wrong length or a symbol outside the alphabet)."""


def new_receipt() -> str:
    """A fresh receipt in its display form."""
    return display("".join(secrets.choice(ALPHABET) for _ in range(SYMBOLS)))


def display(normalised: str) -> str:
    """``7KQ4M2XD9PZAHN3F`` -> ``7KQ4-M2XD-9PZA-HN3F``."""
    return "-".join(normalised[i : i + GROUP] for i in range(0, len(normalised), GROUP))


# The longest text that can still be a receipt: its 16 symbols with a separator or two
# between each, and spaces around. Anything longer is refused before any work on it.
MAX_TYPED = 64


def normalise(text: str) -> str:
    """The canonical form of a typed receipt: 16 upper-case symbols, no separators.

    Raises ``MalformedReceipt`` when the text cannot be a receipt (first of all, when it is
    longer than ``MAX_TYPED``: nothing is normalised then).
    """
    if len(text) > MAX_TYPED:
        raise MalformedReceipt("a receipt is 16 letters and digits, like 7KQ4-M2XD-9PZA-HN3F")
    kept = []
    for char in unicodedata.normalize("NFKC", text):
        # Spaces of any kind and dashes of any kind (Pd: hyphen, en dash, ...)
        # are separators people or word processors put in; drop them.
        if char.isspace() or unicodedata.category(char) == "Pd":
            continue
        kept.append(char)
    candidate = "".join(kept).upper().translate(_LOOKALIKES)
    if len(candidate) != SYMBOLS or any(c not in ALPHABET for c in candidate):
        raise MalformedReceipt("a receipt is 16 letters and digits, like 7KQ4-M2XD-9PZA-HN3F")
    return candidate
