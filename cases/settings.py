"""Settings, read from the environment once and passed around frozen.

Every setting has a safe default; the README lists them all. The app factory
takes a ``Settings`` so tests build the app with their own (a temporary
database, cheap Argon2id) instead of patching code.
"""

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from crypto.kdf import Argon2Params

MiB = 1024 * 1024


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"not a yes/no value: {value!r}")


def _list(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def _key(value: str) -> bytes:
    key = bytes.fromhex(value.strip())
    if len(key) < 32:
        raise ValueError("SPEAKUP_HR_MATCH_KEY must be at least 32 bytes, in hex (openssl rand -hex 32)")
    return key


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite+aiosqlite:///var/speakup.db"
    # Where the demo keeps its data; `speakup init` refuses to write the recovery key in here.
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
    # Failed staff logins per minute from browsers without a device cookie, all accounts
    # together (in the database, shared by every process), before such logins wait a minute.
    login_failures_per_minute: int = 30
    # Reports in these categories are granted to the Audit Committee as well
    # as the Compliance Officer (its duty for accounting complaints).
    audit_committee_categories: tuple[str, ...] = ("books_records", "internal_controls")
    # Key of the keyed hash under which protected persons' employee ids are
    # matched against HR records. Never stored in the database. None: the
    # protected-persons register is off until it is set.
    hr_match_key: bytes | None = None
    # Bearer token of the HR adverse-actions API. None: that API is off.
    hr_api_token: str | None = None
    # How long after a report an adverse action against a protected person raises a flag.
    protection_months: int = 24
    retaliation_response_days: int = 7
    check_in_days: tuple[int, ...] = (30, 90, 180, 365)
    # Mail: smtp://user:password@host:587 (STARTTLS when the server offers it,
    # required with ?starttls=require), smtps://host:465 (implicit TLS). None: mail
    # stays in the outbox until a server is set.
    smtp_url: str | None = None
    mail_from: str = "speakup@localhost"
    # Where staff find the site: mails link here.
    base_url: str = "http://127.0.0.1:8000"
    # Put the case reference in mails? Off, a mail says only that something needs attention.
    mail_case_reference: bool = False
    # UTC hour of the daily digest, and of the mails that the day before's reporters caused.
    digest_hour: int = 7
    # Run the mail sender and the daily jobs inside the web process (else run `speakup worker`).
    worker_in_app: bool = True

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
        converters: dict[str, Callable[[str], object]] = {
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
            "audit_committee_categories": _list,
            "hr_match_key": _key,
            "hr_api_token": str,
            "protection_months": int,
            "retaliation_response_days": int,
            "check_in_days": lambda v: tuple(int(d) for d in _list(v)),
            "smtp_url": str,
            "mail_from": str,
            "base_url": lambda v: v.rstrip("/"),
            "mail_case_reference": _bool,
            "digest_hour": int,
            "worker_in_app": _bool,
        }
        for name, convert in converters.items():
            if name in env:
                values[name] = convert(env.pop(name))
        if env:
            unknown = ", ".join(sorted("SPEAKUP_" + k.upper() for k in env))
            raise ValueError(f"unknown settings: {unknown}")
        return replace(cls(**values), **overrides)
