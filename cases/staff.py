"""Staff accounts: key pairs wrapped under the password, and their roles."""

import re
import secrets
from datetime import UTC, datetime

from nacl.public import PrivateKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crypto import CryptoError, keys
from crypto.kdf import SALT_BYTES

from .context import Context
from .errors import InvalidInput
from .models import Staff
from .settings import ROLES

MIN_PASSWORD = 12
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(fields={"password": f"Use at least {MIN_PASSWORD} characters."})


async def create_staff(session: AsyncSession, ctx: Context, *, email: str, role: str, password: str) -> Staff:
    """Add a staff member with a fresh key pair wrapped under their password. Commits."""
    email = email.strip().lower()
    errors = {}
    if not _EMAIL.match(email):
        errors["email"] = "Give a valid e-mail address."
    if role not in ROLES:
        errors["role"] = f"Role must be one of: {', '.join(ROLES)}."
    if errors:
        raise InvalidInput(fields=errors)
    check_password(password)
    salt = secrets.token_bytes(SALT_BYTES)
    derived = await ctx.kdf.password(password, salt)
    private = keys.new_key_pair()
    staff = Staff(
        email=email,
        role=role,
        active=True,
        public_key=bytes(private.public_key),
        wrapped_private_key=keys.wrap(private, derived.wrapping_key),
        password_salt=salt,
        password_verifier=derived.verifier,
        created_at=datetime.now(UTC),
    )
    async with session.begin():
        if await session.scalar(select(Staff.id).where(Staff.email == email)) is not None:
            raise InvalidInput(fields={"email": "An account with this e-mail address exists."})
        session.add(staff)
    return staff


async def unlock(ctx: Context, staff: Staff, password: str) -> PrivateKey | None:
    """The staff member's private key if the password is right, else None."""
    derived = await ctx.kdf.password(password, staff.password_salt)
    if not secrets.compare_digest(derived.verifier, staff.password_verifier):
        return None
    try:
        return keys.unwrap(staff.wrapped_private_key, derived.wrapping_key)
    except CryptoError:
        return None
