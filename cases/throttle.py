"""Limits on repeated failures that keep no client address.

Both limits count failures across everyone, in memory, per process: a site
under a guessing burst slows everyone down for a minute rather than keep a
list of who tried. Receipts carry 80 bits and cost an Argon2id run each, so
guessing one is hopeless anyway; the limit keeps a burst from filling the
Argon2id queue for the reporters who have real receipts.
"""

import time
from collections import deque
from collections.abc import Callable

from .errors import SpeakupError


class TooManyLogins(SpeakupError):
    status = 429
    code = "too_many_logins"
    detail = "There have been too many failed logins on this site. Try again in a minute."


class TooManyReceipts(SpeakupError):
    status = 429
    code = "too_many_attempts"
    detail = "Too many wrong receipts have been tried on this site just now. Wait a minute, then try again."


class FailureLimiter:
    """Failures of one kind in the last minute; past ``per_minute``, ``check`` refuses."""

    def __init__(self, per_minute: int, error: type[SpeakupError], clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.error = error
        self.clock = clock
        self._failures: deque[float] = deque()

    def _trim(self) -> None:
        cutoff = self.clock() - 60
        while self._failures and self._failures[0] < cutoff:
            self._failures.popleft()

    def check(self) -> None:
        self._trim()
        if len(self._failures) >= self.per_minute:
            raise self.error()

    def failed(self) -> None:
        self._failures.append(self.clock())
