"""Staff login, second factor, sessions and passwords.

Login unlocks the staff private key (Argon2id over the password). The key
then lives only in a ``staff_sessions`` row, sealed under a random secret that
exists only in the session cookie: the database alone opens nothing, and
deleting the row (logout, idle timeout, password change) ends the session.
A session also ends ``ABSOLUTE_LIFETIME`` after login however active it is,
and expired rows are deleted (by the worker's jobs and at each login) rather
than left for their cookie to come back: a backup holding a row, plus an old
cookie, would otherwise open the staff private key.

Failures answer with one generic error after the same Argon2id work as a
success, whether the account exists, is locked, disabled, or the code is
wrong. Attempts are limited per browser that has logged in before (its
device cookie), else per account and across the site, all in the database
(``throttle.py``); no client address is kept for any of them.
"""

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

import pyotp
from nacl.exceptions import CryptoError
from nacl.public import PrivateKey
from nacl.secret import SecretBox
from sqlalchemy import CursorResult, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crypto import keys
from crypto.kdf import SALT_BYTES, PasswordKeys

from . import audit, notifications, throttle
from .context import Context
from .errors import InvalidInput, SpeakupError
from .identity import Identity
from .models import Staff, StaffDevice, StaffSession

MIN_PASSWORD = 12
IDLE_TIMEOUT = timedelta(minutes=30)
# A session ends this long after login, even if it was used a minute ago.
ABSOLUTE_LIFETIME = timedelta(hours=12)
FAILURES_BEFORE_LOCK = 5
# A device cookie lasts this long from its last login (and so does its row).
DEVICE_LIFETIME = timedelta(days=180)
MAX_LOCK = timedelta(hours=1)
# last_seen_at is written at most this often, not on every request.
TOUCH_EVERY = timedelta(minutes=1)
_DUMMY_SALT = bytes(SALT_BYTES)


class LoginFailed(SpeakupError):
    status = 401
    code = "login_failed"
    detail = (
        "The e-mail address, password or code is not right. After several failed attempts an account "
        "is locked for a while: wait a few minutes before trying again."
    )


@dataclass(frozen=True)
class Enrolment:
    """A staff member between password and first TOTP code."""

    staff: Staff
    totp_secret: str


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(fields={"password": f"Use at least {MIN_PASSWORD} characters."})


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, email: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=f"Speakup {issuer}")


def _accepted_step(secret: str, code: str, now: datetime, last_step: int | None) -> int | None:
    """The time step the code is valid for (one step of clock drift either way), if not used before."""
    code = "".join(code.split())
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in (current - 1, current, current + 1):
        if (last_step is None or step > last_step) and secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _token_parts(cookie: str) -> tuple[bytes, bytes] | None:
    try:
        ident, secret = cookie.split(".", 1)
        raw_secret = base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))
    except ValueError:
        return None
    if len(raw_secret) != SecretBox.KEY_SIZE:
        return None
    return hashlib.sha256(ident.encode()).digest(), raw_secret


async def _open_session(session: AsyncSession, staff: Staff, state: str, payload: dict, now: datetime) -> str:
    """Store a new session; return the cookie value, the only copy of its secret."""
    ident = secrets.token_urlsafe(32)
    secret = secrets.token_bytes(SecretBox.KEY_SIZE)
    session.add(
        StaffSession(
            token_hash=hashlib.sha256(ident.encode()).digest(),
            staff_id=staff.id,
            state=state,
            sealed_keys=SecretBox(secret).encrypt(json.dumps(payload).encode()),
            created_at=now,
            last_seen_at=now,
        )
    )
    return f"{ident}.{base64.urlsafe_b64encode(secret).decode().rstrip('=')}"


@dataclass(frozen=True)
class LoggedIn:
    cookie: str  # the session cookie's value
    state: str  # "active", or "enrolling" a second factor
    device: str | None  # a new device cookie's value, for a browser that had none for this account


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _locked(until: datetime | None, now: datetime) -> bool:
    return until is not None and _aware(until) > now


def _lock_after(failures: int, now: datetime) -> datetime | None:
    if failures < FAILURES_BEFORE_LOCK:
        return None
    return now + min(timedelta(minutes=1) * 2 ** (failures - FAILURES_BEFORE_LOCK), MAX_LOCK)


async def login(
    session: AsyncSession,
    ctx: Context,
    email: str,
    password: str,
    code: str,
    now: datetime,
    previous_cookie: str | None = None,
    device_cookie: str | None = None,
) -> LoggedIn:
    """Check the credentials. Commits.

    The attempt is counted before its Argon2id run, against the allowance of the browser's
    device cookie if it holds one for this account, else against the account's and the site's
    (``throttle.py``), and given back if it succeeds. The session the browser held before
    (``previous_cookie``) ends: a login always starts a new session id. Raises ``LoginFailed``
    (generic) or ``TooManyLogins``.
    """
    email = email.strip().lower()
    async with session.begin():
        # No address holds a NUL (and PostgreSQL refuses one in a query): an unknown account, at the same cost.
        staff = None if "\x00" in email else await session.scalar(select(Staff).where(Staff.email == email).with_for_update())
        device = None
        if staff is not None and device_cookie:
            device = await session.scalar(
                select(StaffDevice)
                .where(StaffDevice.token_hash == _hash(device_cookie), StaffDevice.staff_id == staff.id)
                .with_for_update()
            )
        refused = await _reserve(session, ctx, staff, device, now)
    derived = await ctx.kdf.password(password, staff.password_salt if staff else _DUMMY_SALT)

    async with session.begin():
        result: LoggedIn | None = None
        if staff is None:
            failure = "unknown account"
        else:
            result, failure = await _check(session, staff.id, device.id if device else None, derived, code, now, refused)
        if result is None:
            await audit.record(session, "login.failed", actor_id=staff.id if staff else None, detail=failure, at=now)
        else:
            assert staff is not None  # a failure otherwise
            await audit.record(session, "login" if result.state == "active" else "login.enrolling", actor_id=staff.id, at=now)
            if device is None:
                await throttle.give_back(session, "login", now)
            previous = _token_parts(previous_cookie) if previous_cookie else None
            if previous is not None:
                await session.execute(delete(StaffSession).where(StaffSession.token_hash == previous[0]))
    if result is None:
        raise LoginFailed()
    # Opportunistically, in a transaction of its own (it takes no lock the login holds).
    async with session.begin():
        await purge_expired_sessions(session, now)
    return result


def _new_device(session: AsyncSession, staff: Staff, now: datetime) -> str:
    """This browser proved the password and the code: from now on it has its own allowance. Returns its cookie."""
    token = secrets.token_urlsafe(32)
    session.add(StaffDevice(staff_id=staff.id, token_hash=_hash(token), failures=0, last_used_at=now))
    return token


async def _reserve(session: AsyncSession, ctx: Context, staff: Staff | None, device: StaffDevice | None, now: datetime) -> str:
    """Count this attempt against its allowance, inside the caller's transaction. Returns "locked"
    if that allowance is locked now (the attempt then fails whatever it holds), else ""."""
    if device is not None:
        if _locked(device.locked_until, now):
            return "locked"
        device.failures += 1  # the attempt that uses up the allowance locks it at once, for those in flight
        device.locked_until = _lock_after(device.failures, now) or device.locked_until
        return ""
    await throttle.reserve(session, "login", ctx.settings.login_failures_per_minute, now)
    if staff is None:
        return ""
    if _locked(staff.locked_until, now):
        return "locked"
    staff.failed_logins += 1
    staff.locked_until = _lock_after(staff.failed_logins, now) or staff.locked_until
    return ""


async def _check(
    session: AsyncSession, staff_id: int, device_id: int | None, derived: PasswordKeys, code: str, now: datetime, refused: str
) -> tuple[LoggedIn | None, str]:
    """(the login, "") on success, (None, reason) on failure; settles the attempt's count."""
    # Lock the rows and read them again: values loaded before the Argon2id run may be stale by
    # now (another login used this code, or locked the account meanwhile).
    staff = await session.get_one(Staff, staff_id, with_for_update=True, populate_existing=True)
    device = await session.get(StaffDevice, device_id, with_for_update=True, populate_existing=True) if device_id else None
    right = secrets.compare_digest(derived.verifier, staff.password_verifier)
    usable = right and staff.active and not refused

    result = None
    if usable and staff.totp_box is None:  # first login, or after a reset: enrol a second factor
        payload = {"wrapping_key": derived.wrapping_key.hex(), "totp": new_totp_secret()}
        result = LoggedIn(await _open_session(session, staff, "enrolling", payload, now), "enrolling", None)
    elif usable:
        assert staff.totp_box is not None
        totp_secret = SecretBox(derived.wrapping_key).decrypt(staff.totp_box).decode()
        step = _accepted_step(totp_secret, code, now, staff.totp_last_step)
        if step is not None:
            staff.totp_last_step = step
            private = keys.unwrap(staff.wrapped_private_key, derived.wrapping_key)
            cookie = await _open_session(session, staff, "active", {"private_key": bytes(private).hex()}, now)
            result = LoggedIn(cookie, "active", None if device else _new_device(session, staff, now))

    trusted = device_id is not None  # whose allowance the attempt was counted against
    if result is None:  # it stays counted (and, past the allowance, locked: see _reserve)
        return None, refused or ("disabled" if not staff.active else "password" if not right else "code")
    if trusted:
        assert device is not None
        device.failures, device.locked_until, device.last_used_at = 0, None, now
    else:
        staff.failed_logins, staff.locked_until = 0, None
    return result, ""


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _expired(row: StaffSession, now: datetime) -> bool:
    return _aware(row.last_seen_at) + IDLE_TIMEOUT < now or _aware(row.created_at) + ABSOLUTE_LIFETIME < now


async def purge_expired_sessions(session: AsyncSession, now: datetime) -> int:
    """Delete every session past its idle timeout or its absolute lifetime, inside the
    caller's transaction; return how many. (Each row holds a staff private key sealed under
    its cookie's secret: once expired, it is only a risk in a backup.)"""
    result = await session.execute(
        delete(StaffSession)
        .where(or_(StaffSession.last_seen_at < now - IDLE_TIMEOUT, StaffSession.created_at < now - ABSOLUTE_LIFETIME))
        .execution_options(synchronize_session=False)
    )
    # A browser not used for months is no longer one the staff member uses.
    await session.execute(
        delete(StaffDevice).where(StaffDevice.last_used_at < now - DEVICE_LIFETIME).execution_options(synchronize_session=False)
    )
    return cast(CursorResult, result).rowcount


async def _load(session: AsyncSession, cookie: str | None, now: datetime) -> tuple[StaffSession, Staff, dict] | None:
    parts = _token_parts(cookie) if cookie else None
    if parts is None:
        return None
    token_hash, secret = parts
    row = await session.scalar(select(StaffSession).where(StaffSession.token_hash == token_hash))
    if row is None:
        return None
    if _expired(row, now):
        await session.delete(row)
        return None
    staff = await session.get(Staff, row.staff_id)
    if staff is None or not staff.active:
        await session.delete(row)
        return None
    try:
        payload = json.loads(SecretBox(secret).decrypt(row.sealed_keys))
    except CryptoError:
        return None
    if now - _aware(row.last_seen_at) > TOUCH_EVERY:
        row.last_seen_at = now
    return row, staff, payload


async def current_identity(session: AsyncSession, cookie: str | None, now: datetime) -> Identity | None:
    """The logged-in staff member for this cookie, or None (expired, logged out, disabled). Commits."""
    async with session.begin():
        loaded = await _load(session, cookie, now)
    if loaded is None or loaded[0].state != "active":
        return None
    _, staff, payload = loaded
    return Identity(staff, PrivateKey(bytes.fromhex(payload["private_key"])))


async def current_enrolment(session: AsyncSession, cookie: str | None, now: datetime) -> Enrolment | None:
    async with session.begin():
        loaded = await _load(session, cookie, now)
    if loaded is None or loaded[0].state != "enrolling":
        return None
    _, staff, payload = loaded
    return Enrolment(staff, payload["totp"])


async def confirm_enrolment(session: AsyncSession, cookie: str, code: str, now: datetime) -> LoggedIn:
    """Check the first code; store the TOTP secret; replace the session with an active one, and
    make this browser a known one (it proved the password and the code). Commits."""
    async with session.begin():
        loaded = await _load(session, cookie, now)
        if loaded is None or loaded[0].state != "enrolling":
            raise LoginFailed()
        row, staff, payload = loaded
        step = _accepted_step(payload["totp"], code, now, None)
        if step is None:
            raise InvalidInput(fields={"code": "That code is not right. Check the device's clock, then try the next code."})
        wrapping_key = bytes.fromhex(payload["wrapping_key"])
        private = keys.unwrap(staff.wrapped_private_key, wrapping_key)
        staff.totp_box = SecretBox(wrapping_key).encrypt(payload["totp"].encode())
        staff.totp_last_step = step
        await session.delete(row)
        new_cookie = await _open_session(session, staff, "active", {"private_key": bytes(private).hex()}, now)
        device = _new_device(session, staff, now)
        await audit.record(session, "totp.enrolled", actor_id=staff.id, at=now)
        await audit.record(session, "login", actor_id=staff.id, at=now)
    return LoggedIn(new_cookie, "active", device)


async def logout(session: AsyncSession, cookie: str | None, now: datetime) -> None:
    async with session.begin():
        loaded = await _load(session, cookie, now)
        if loaded is not None:
            row, staff, _ = loaded
            await session.delete(row)
            await audit.record(session, "logout", actor_id=staff.id, at=now)


async def change_password(session: AsyncSession, ctx: Context, identity: Identity, current: str, new: str, now: datetime) -> None:
    """Re-wrap the private key (and second factor) under the new password; end every session. Commits."""
    check_password(new)
    staff = identity.staff
    old = await ctx.kdf.password(current, staff.password_salt)
    if not secrets.compare_digest(old.verifier, staff.password_verifier):
        raise InvalidInput(fields={"current_password": "This is not your current password."})
    salt = secrets.token_bytes(SALT_BYTES)
    derived = await ctx.kdf.password(new, salt)
    async with session.begin():
        staff = await session.get_one(Staff, staff.id, with_for_update=True)
        totp = SecretBox(old.wrapping_key).decrypt(staff.totp_box) if staff.totp_box else None
        staff.password_salt, staff.password_verifier = salt, derived.verifier
        staff.wrapped_private_key = keys.wrap(identity.private_key, derived.wrapping_key)
        staff.totp_box = SecretBox(derived.wrapping_key).encrypt(totp) if totp else None
        await session.execute(delete(StaffSession).where(StaffSession.staff_id == staff.id))
        await audit.record(session, "password.changed", actor_id=staff.id, at=now)
        await notifications.account_event(session, ctx.settings, staff, "password_changed", now)
