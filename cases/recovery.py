"""Recovering a staff member who forgot their password, with the offline recovery key.

The staff member gets a new key pair and password; every case they held is
re-granted to the new key (both case keys: the conversation and the staff key)
by opening the case's recovery grant. Their second
factor is reset (it was wrapped under the old password) and their sessions end.
"""

import secrets

from nacl.public import PrivateKey
from sqlalchemy import delete, not_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crypto import CryptoError, keys
from crypto.kdf import SALT_BYTES

from . import audit
from .auth import check_password
from .context import Context
from .errors import InvalidInput
from .exclusion import implicated_clause
from .grants import open_recovery_grant, staff_grant, unheld_cases
from .models import Case, Grant, Installation, Staff, StaffDevice, StaffSession


async def recover_staff(session: AsyncSession, ctx: Context, email: str, recovery_key: PrivateKey, new_password: str) -> int:
    """Give the account a new key pair and password; re-grant its cases. Returns how many. Commits."""
    check_password(new_password)
    salt = secrets.token_bytes(SALT_BYTES)
    derived = await ctx.kdf.password(new_password, salt)
    private = keys.new_key_pair()
    public = private.public_key
    async with session.begin():
        installation = (await session.scalars(select(Installation))).one()
        if bytes(recovery_key.public_key) != installation.recovery_public_key:
            raise InvalidInput(fields={"recovery_key": "This is not this installation's recovery key."})
        staff = await session.scalar(select(Staff).where(Staff.email == email.strip().lower()).with_for_update())
        if staff is None:
            raise InvalidInput(fields={"email": "No such account."})
        held = (await session.scalars(select(Grant).where(Grant.staff_id == staff.id))).all()
        recovery_grants = {
            g.case_id: g
            for g in await session.scalars(
                select(Grant).where(Grant.holder == "recovery", Grant.case_id.in_([g.case_id for g in held]))
            )
        }
        for grant in held:
            try:
                case_keys = open_recovery_grant(recovery_grants[grant.case_id], recovery_key)
            except (KeyError, CryptoError):
                raise InvalidInput(fields={"recovery_key": f"Case {grant.case_id} has no usable recovery grant."}) from None
            grant.sealed_key = keys.grant(case_keys.conversation, public)
            grant.staff_sealed_key = None if case_keys.staff is None else keys.grant(case_keys.staff, public)
        staff.public_key = bytes(public)
        staff.wrapped_private_key = keys.wrap(private, derived.wrapping_key)
        staff.password_salt, staff.password_verifier = salt, derived.verifier
        staff.totp_box = staff.totp_last_step = None
        staff.failed_logins, staff.locked_until = 0, None
        await session.execute(delete(StaffSession).where(StaffSession.staff_id == staff.id))
        await session.execute(
            delete(StaffDevice).where(StaffDevice.staff_id == staff.id)
        )  # a new start: no old browser's allowance
        await audit.record(
            session,
            "password.recovered",
            case_id=None,
            detail=f"staff {staff.id}, {len(held)} grants renewed",
            at=ctx.now(),
        )
    return len(held)


async def regrant_unheld(session: AsyncSession, ctx: Context, recovery_key: PrivateKey) -> list[str]:
    """Give every case that no active staff member may read to the active staff its routing names
    (the Audit Committee for a leadership report; else the Compliance Officers, and the Committee too
    in its categories), through the case's recovery grant. Returns the references re-granted. Commits."""
    async with session.begin():
        installation = (await session.scalars(select(Installation))).one()
        if bytes(recovery_key.public_key) != installation.recovery_public_key:
            raise InvalidInput(fields={"recovery_key": "This is not this installation's recovery key."})
        regranted = []
        for reference in await unheld_cases(session):
            case = (await session.scalars(select(Case).where(Case.reference == reference))).one()
            recovery = (await session.scalars(select(Grant).where(Grant.case_id == case.id, Grant.holder == "recovery"))).one()
            case_keys = open_recovery_grant(recovery, recovery_key)
            roles = {case.routing}
            if case.category in ctx.settings.audit_committee_categories:
                roles.add("audit_committee")
            readers = await session.scalars(
                select(Staff).where(
                    Staff.role.in_(roles),
                    Staff.active.is_(True),
                    not_(implicated_clause(Staff.id, case.id)),
                    ~select(Grant.id).where(Grant.case_id == case.id, Grant.staff_id == Staff.id).exists(),
                )
            )
            added = 0
            for staff in readers:
                session.add(staff_grant(case.id, case_keys, staff))
                await audit.record(session, "grant.added", case_id=case.id, detail=f"staff {staff.id}: recovery", at=ctx.now())
                added += 1
            if added:
                regranted.append(reference)
    return regranted
