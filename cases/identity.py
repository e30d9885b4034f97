"""Who is acting: a logged-in staff member, with their private key unlocked for this request."""

from dataclasses import dataclass

from nacl.public import PrivateKey

from .models import Staff


@dataclass(frozen=True)
class Identity:
    """A logged-in staff member, with their private key unlocked for this request."""

    staff: Staff
    private_key: PrivateKey

    def __repr__(self) -> str:
        return f"Identity(staff_id={self.staff.id})"
