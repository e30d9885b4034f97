"""Settings, read from the environment once and passed around frozen.

Every setting has a safe default; the README lists them all. The app factory
takes a ``Settings`` so tests build the app with their own (a temporary
database, cheap Argon2id) instead of patching code.
"""

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from crypto.kdf import Argon2Params

ROLES = ("compliance_officer", "investigator", "audit_committee", "admin")
MiB = 1024 * 1024


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"not a yes/no value: {value!r}")


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite+aiosqlite:///var/speakup.db"
    # Where `speakup init` writes the recovery key file, and SQLite lives by default.
    data_dir: Path = Path("var")
    argon2: Argon2Params = field(default_factory=Argon2Params)
    # At most this many Argon2id runs at once: memory stays under
    # argon2_concurrency x argon2.memlimit however many requests arrive.
    argon2_concurrency: int = max(1, os.cpu_count() or 1)
    # Cookies need HTTPS; only a plain-HTTP local demo turns this off.
    secure_cookies: bool = True
    max_attachments: int = 5
    max_attachment_bytes: int = 10 * MiB
    # The deadlines of the EU Whistleblower Directive (Art. 9(1)(b) and (f)).
    acknowledge_days: int = 7
    feedback_months: int = 3
    organisation: str = "Lantronix, Inc."
    # Failed staff logins per minute, all accounts together, before every
    # login is refused for a while (per process; accounts also lock alone).
    login_failures_per_minute: int = 30

    @property
    def max_request_bytes(self) -> int:
        """Largest accepted request body: every attachment at its limit, base64 in JSON, plus text."""
        return self.max_attachments * self.max_attachment_bytes * 4 // 3 + 2 * MiB

    def __repr__(self) -> str:
        # Database URLs can carry a password; never let a repr put it in a log.
        return f"Settings(database_url=<hidden>, data_dir={str(self.data_dir)!r})"

    @classmethod
    def from_env(cls, environ: os._Environ[str] | dict[str, str] = os.environ, **overrides) -> "Settings":
        """Settings from ``SPEAKUP_*`` variables; ``overrides`` win over both."""
        defaults = cls()
        env = {k[len("SPEAKUP_") :].lower(): v for k, v in environ.items() if k.startswith("SPEAKUP_")}
        argon2 = Argon2Params(
            opslimit=int(env.pop("argon2_opslimit", defaults.argon2.opslimit)),
            memlimit=int(env.pop("argon2_memlimit", defaults.argon2.memlimit)),
        )
        values: dict = {"argon2": argon2}
        converters = {
            "database_url": str,
            "data_dir": Path,
            "argon2_concurrency": int,
            "secure_cookies": _bool,
            "max_attachments": int,
            "max_attachment_bytes": int,
            "acknowledge_days": int,
            "feedback_months": int,
            "organisation": str,
            "login_failures_per_minute": int,
        }
        for name, convert in converters.items():
            if name in env:
                values[name] = convert(env.pop(name))
        if env:
            unknown = ", ".join(sorted("SPEAKUP_" + k.upper() for k in env))
            raise ValueError(f"unknown settings: {unknown}")
        return replace(cls(**values), **overrides)
