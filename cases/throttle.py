"""Limits on guessing that keep no client address, are shared by every process (they live in
the database), and cannot be turned against the people they protect.

- **Staff logins.** Each browser that has logged in to an account (password and code) holds a
  device cookie with an allowance of its own: five failures lock that browser, not the account.
  Attempts from any other browser share the account's allowance, and, across all accounts, a
  site-wide number per minute. So guesses from elsewhere can lock the account for new browsers
  (and slow down every new browser), but cannot keep out a staff member who has the password,
  the code and the browser they use. An administrator can lift a lock (logged). Every attempt
  is counted before its Argon2id run and given back only when it succeeds: twenty guesses sent
  at once cannot all be tried before the first is counted.
- **Receipts.** No limit refuses a reporter for what others did. A receipt carries 80 random
  bits and each try costs an Argon2id run: guessing one is hopeless, so the only thing a flood
  of junk receipts can do is use the server's capacity, and that is bounded where it is spent
  (``kdf_pool.py``: a full queue answers 503 at once). A site-wide count of wrong receipts
  refused every reporter, one reporting retaliation included, for the price of 120 requests.
"""

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from .errors import SpeakupError
from .models import RateWindow

WINDOW = timedelta(minutes=1)


class TooManyLogins(SpeakupError):
    status = 429
    code = "too_many_logins"
    detail = (
        "There have been too many failed logins on this site from browsers not used here before. "
        "Try again in a minute, or from the browser you usually use."
    )
    retry_after = 60


async def _window(session: AsyncSession, name: str, now: datetime) -> RateWindow:
    window = await session.scalar(
        select(RateWindow).where(RateWindow.name == name).with_for_update().execution_options(populate_existing=True)
    )
    if window is None:
        try:
            async with session.begin_nested():  # two first attempts at once: one inserts, the other waits
                session.add(RateWindow(name=name, window_start=now, used=0))
        except IntegrityError:
            pass
        window = (await session.scalars(select(RateWindow).where(RateWindow.name == name).with_for_update())).one()
    start = window.window_start if window.window_start.tzinfo else window.window_start.replace(tzinfo=now.tzinfo)
    if now - start >= WINDOW:
        window.window_start, window.used = now, 0
    return window


async def reserve(session: AsyncSession, name: str, per_minute: int, now: datetime) -> None:
    """Count one attempt in this minute's window, inside the caller's transaction; ``TooManyLogins`` if it is full."""
    window = await _window(session, name, now)
    if window.used >= per_minute:
        raise TooManyLogins()
    window.used += 1


async def give_back(session: AsyncSession, name: str, now: datetime) -> None:
    """Return an attempt that succeeded: only failures use up the window."""
    window = await _window(session, name, now)
    window.used = max(window.used - 1, 0)
