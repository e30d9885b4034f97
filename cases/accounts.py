"""Staff accounts: key pairs wrapped under the password, and their roles."""

import re
import secrets
from datetime import datetime

from nacl.public import PrivateKey
from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crypto import CryptoError, keys
from crypto.kdf import SALT_BYTES

from . import audit, notifications
from .access import require_role
from .auth import check_password
from .context import Context
from .errors import InvalidInput
from .grants import unheld_cases
from .identity import Identity
from .models import Case, Grant, Staff, StaffDevice, StaffSession
from .steps import require_confirmation
from .vocabulary import ACCOUNT_MANAGERS, CASE_ROLES, RECEIVING_ROLES, ROLES

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
    unlock: bool = False,
) -> int:
    """An administrator's changes to an account. Any change ends the account's sessions. Commits.

    A disabled account keeps its grants (so nothing is lost) but cannot log in
    or use them; re-enabling it restores access. A new role gives up the grants
    it may not hold (an administrator holds none, a Compliance Officer no
    leadership report); returns how many. Refused when it would leave a receiving
    role with no active member, or a case with no active reader.
    """
    require_role(actor, ACCOUNT_MANAGERS)
    actor_id = actor.staff.id
    if role is not None and role not in ROLES:
        raise InvalidInput(fields={"role": f"Role must be one of: {', '.join(ROLES)}."})
    if staff_id == actor_id and (active is False or (role is not None and role != "admin")):
        raise InvalidInput(fields={"staff": "You cannot disable or demote your own account."})
    async with session.begin():
        # Lock every account that can hold cases (and this one), in one order, before deciding:
        # two administrators disabling the last two Committee members at once must not both see
        # the other one still active. (A handful of rows; account changes are rare.)
        await session.execute(
            select(Staff.id).where(or_(Staff.role.in_(CASE_ROLES), Staff.id == staff_id)).order_by(Staff.id).with_for_update()
        )
        staff = await session.get(Staff, staff_id, populate_existing=True)
        if staff is None:
            raise InvalidInput(fields={"staff": "No such account."})
        changes = []
        previous_role, was_active = staff.role, staff.active
        if active is not None and active != staff.active:
            staff.active = active
            changes.append("enabled" if active else "disabled")
        if role is not None and role != staff.role:
            changes.append(f"role {staff.role} -> {role}")
            staff.role = role
            if role in RECEIVING_ROLES:
                await notifications.new_case_reader(session, ctx.settings, staff, ctx.now())
        revoked = 0
        if (staff.role, staff.active) != (previous_role, was_active):
            await _keep_a_member(session, previous_role, staff)
            held = list(await session.scalars(select(Grant.case_id).where(Grant.staff_id == staff.id)))
            revoked = await _revoke_what_the_role_may_not_hold(session, actor, staff, ctx.now())
            if await unheld_cases(session, among=held):
                raise InvalidInput(
                    fields={"staff": "Some of this account's cases would be left with no active reader: hand them over first."}
                )
        if unlock:  # the account's and its browsers' login locks (cases/throttle.py)
            staff.failed_logins, staff.locked_until = 0, None
            await session.execute(
                update(StaffDevice).where(StaffDevice.staff_id == staff.id).values(failures=0, locked_until=None)
            )
            changes.append("login locks lifted")
        if reset_second_factor:
            staff.totp_box, staff.totp_last_step = None, None
            changes.append("second factor reset")
            await notifications.account_event(session, ctx.settings, staff, "second_factor_reset", ctx.now())
        await session.execute(delete(StaffSession).where(StaffSession.staff_id == staff.id))
        for change in changes:
            await audit.record(session, "staff.changed", actor_id=actor_id, detail=f"staff {staff.id}: {change}", at=ctx.now())
    return revoked


async def _keep_a_member(session: AsyncSession, previous_role: str, staff: Staff) -> None:
    """The last active Compliance Officer or Audit Committee member cannot be disabled or moved away."""
    if previous_role not in RECEIVING_ROLES:
        return
    others = await session.scalar(
        select(Staff.id).where(Staff.role == previous_role, Staff.active.is_(True), Staff.id != staff.id).limit(1)
    )
    if others is None and not (staff.active and staff.role == previous_role):
        raise InvalidInput(
            fields={
                "staff": f"This is the last active {previous_role.replace('_', ' ')}: new reports would reach nobody. "
                "Appoint another first."
            }
        )


async def _revoke_what_the_role_may_not_hold(session: AsyncSession, actor: Identity, staff: Staff, now: datetime) -> int:
    """An administrator holds no case; a Compliance Officer no report that concerns leadership."""
    query = select(Grant.case_id).where(Grant.staff_id == staff.id, Grant.holder == "staff")
    if staff.role == "compliance_officer":
        query = query.join(Case, Case.id == Grant.case_id).where(Case.routing == "audit_committee")
    elif staff.role in CASE_ROLES:
        return 0
    case_ids = list(await session.scalars(query))
    for case_id in case_ids:
        await session.execute(delete(Grant).where(Grant.case_id == case_id, Grant.staff_id == staff.id))
        await audit.record(
            session,
            "grant.revoked",
            actor_id=actor.staff.id,
            case_id=case_id,
            detail=f"staff {staff.id}: not for the new role",
            at=now,
        )
    return len(case_ids)


async def set_digest(session: AsyncSession, identity: Identity, wanted: bool) -> None:
    """Turn one's own daily digest mail on or off. Commits."""
    async with session.begin():
        staff = await session.get_one(Staff, identity.staff.id)
        staff.wants_digest = wanted


# Changes the accounts page asks to confirm: disabling ends the account's sessions at once, and
# enabling it again does not give back what it was doing (it must log in and start over).
IRREVERSIBLE_CHANGES = frozenset({"disable"})


async def change_account(
    session: AsyncSession,
    ctx: Context,
    actor: Identity,
    staff_id: int,
    change: str,
    *,
    role: str = "",
    confirmed: bool = False,
) -> int:
    """One change an administrator picks on the accounts page: disable, enable, unlock, reset_second_factor or role.
    Disabling must come ``confirmed``. Commits; returns how many case grants the account gave up."""
    require_role(actor, ACCOUNT_MANAGERS)
    if change in IRREVERSIBLE_CHANGES:
        require_confirmation(confirmed)
    options: dict[str, dict] = {
        "disable": {"active": False},
        "enable": {"active": True},
        "reset_second_factor": {"reset_second_factor": True},
        "unlock": {"unlock": True},
        "role": {"role": role},
    }
    if change not in options:
        raise InvalidInput("Unknown change.")
    return await update_staff(session, ctx, actor, staff_id, **options[change])
