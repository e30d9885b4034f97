"""Limits on repeated attempts that keep no client address."""

import time
from collections import deque

from .errors import SpeakupError


class TooManyLogins(SpeakupError):
    status = 429
    code = "too_many_logins"
    detail = "There have been too many failed logins on this site. Try again in a minute."


class LoginLimiter:
    """Failed logins across all accounts in the last minute, counted in memory."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._failures: deque[float] = deque()

    def _trim(self) -> None:
        cutoff = time.monotonic() - 60
        while self._failures and self._failures[0] < cutoff:
            self._failures.popleft()

    def check(self) -> None:
        self._trim()
        if len(self._failures) >= self.per_minute:
            raise TooManyLogins()

    def failed(self) -> None:
        self._failures.append(time.monotonic())
