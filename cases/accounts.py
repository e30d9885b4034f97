"""Staff accounts: key pairs wrapped under the password, and their roles."""

import re
import secrets

from nacl.public import PrivateKey
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from crypto import CryptoError, keys
from crypto.kdf import SALT_BYTES

from . import audit, notifications
from .access import require_role
from .auth import check_password
from .context import Context
from .errors import InvalidInput
from .identity import Identity
from .models import Staff, StaffSession
from .vocabulary import ACCOUNT_MANAGERS, RECEIVING_ROLES, ROLES

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


async def list_accounts(session: AsyncSession, identity: Identity) -> list[Staff]:
    """Every account, by e-mail, for an administrator."""
    require_role(identity, ACCOUNT_MANAGERS)
    async with session.begin():
        return list(await session.scalars(select(Staff).order_by(Staff.email)))


async def create_staff(
    session: AsyncSession, ctx: Context, *, email: str, role: str, password: str, actor: Identity | None = None
) -> Staff:
    """Add a staff member with a fresh key pair wrapped under their password. Commits.

    ``actor``: the administrator creating it; None for the operator at the command line.
    They hold no grant to any existing case; they enrol a second factor at first login.
    """
    if actor is not None:
        require_role(actor, ACCOUNT_MANAGERS)
    actor_id = actor.staff.id if actor is not None else None
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
        created_at=ctx.now(),
    )
    async with session.begin():
        if await session.scalar(select(Staff.id).where(Staff.email == email)) is not None:
            raise InvalidInput(fields={"email": "An account with this e-mail address exists."})
        session.add(staff)
        await session.flush()
        await audit.record(session, "staff.created", actor_id=actor_id, detail=f"staff {staff.id} as {role}", at=ctx.now())
        if role in RECEIVING_ROLES:
            await notifications.new_case_reader(session, ctx.settings, staff, ctx.now())
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


async def update_staff(
    session: AsyncSession,
    ctx: Context,
    actor: Identity,
    staff_id: int,
    *,
    active: bool | None = None,
    role: str | None = None,
    reset_second_factor: bool = False,
) -> None:
    """An administrator's changes to an account. Any change ends the account's sessions. Commits.

    A disabled account keeps its grants (so nothing is lost) but cannot log in
    or use them; re-enabling it restores access.
    """
    require_role(actor, ACCOUNT_MANAGERS)
    actor_id = actor.staff.id
    if role is not None and role not in ROLES:
        raise InvalidInput(fields={"role": f"Role must be one of: {', '.join(ROLES)}."})
    if staff_id == actor_id and (active is False or (role is not None and role != "admin")):
        raise InvalidInput(fields={"staff": "You cannot disable or demote your own account."})
    async with session.begin():
        staff = await session.get(Staff, staff_id, with_for_update=True)
        if staff is None:
            raise InvalidInput(fields={"staff": "No such account."})
        changes = []
        if active is not None and active != staff.active:
            staff.active = active
            changes.append("enabled" if active else "disabled")
        if role is not None and role != staff.role:
            changes.append(f"role {staff.role} -> {role}")
            staff.role = role
            if role in RECEIVING_ROLES:
                await notifications.new_case_reader(session, ctx.settings, staff, ctx.now())
        if reset_second_factor:
            staff.totp_box, staff.totp_last_step = None, None
            changes.append("second factor reset")
            await notifications.account_event(session, ctx.settings, staff, "second_factor_reset", ctx.now())
        await session.execute(delete(StaffSession).where(StaffSession.staff_id == staff.id))
        for change in changes:
            await audit.record(session, "staff.changed", actor_id=actor_id, detail=f"staff {staff.id}: {change}", at=ctx.now())


async def set_digest(session: AsyncSession, identity: Identity, wanted: bool) -> None:
    """Turn one's own daily digest mail on or off. Commits."""
    async with session.begin():
        staff = await session.get_one(Staff, identity.staff.id)
        staff.wants_digest = wanted


async def change_account(
    session: AsyncSession, ctx: Context, actor: Identity, staff_id: int, change: str, *, role: str = ""
) -> None:
    """One change an administrator picks on the accounts page: disable, enable, reset_second_factor or role. Commits."""
    require_role(actor, ACCOUNT_MANAGERS)
    options: dict[str, dict] = {
        "disable": {"active": False},
        "enable": {"active": True},
        "reset_second_factor": {"reset_second_factor": True},
        "role": {"role": role},
    }
    if change not in options:
        raise InvalidInput("Unknown change.")
    await update_staff(session, ctx, actor, staff_id, **options[change])
