"""The database schema.

Plain columns hold only the metadata the README lists (reference, category,
routing, status, dates, flags); everything a person wrote is a sealed box.
Nothing records a client address, a User-Agent or the time of day a reporter
acted: reporter-side records carry dates only, so they cannot be lined up
against a proxy or badge-reader log.
"""

import secrets
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from .vocabulary import (
    ADMISSIBILITY,
    ALLEGATION_TYPES,
    CATEGORIES,
    CHANNELS,
    CLOSURES,
    DETRIMENT_RISKS,
    DISCIPLINARY_ACTIONS,
    DISCLOSURE_BASES,
    FINDINGS,
    FLAG_SOURCES,
    FLAG_STATUSES,
    HOLDERS,
    LINK_KINDS,
    LIST_KINDS,
    MEETING_KINDS,
    MINUTES_ANSWERS,
    PRIORITIES,
    PROTECTED_ROLES,
    REMEDIATION_STATUSES,
    ROLES,
    ROOT_CAUSES,
    ROUTINGS,
    SENDERS,
    SESSION_STATES,
    STATUSES,
    SUBJECT_TYPES,
)


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


# Rows a reporter's act writes (a case, its grants, a message, a file, a flag, a mail) get
# random keys, not a sequence: numbered in the order they were written, their ids and their
# gaps would place the act between staff rows that carry a time. 63 random bits: a clash is
# as likely as guessing a receipt. On SQLite the column stays INTEGER, the table's rowid, so
# not even the hidden rowid keeps the order.
RandomKey = BigInteger().with_variant(Integer, "sqlite")


def random_key() -> int:
    return secrets.randbits(63) or 1


def random_key_column():
    return mapped_column(RandomKey, primary_key=True, autoincrement=False, default=random_key)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_name)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Installation(Base):
    """One row: what `speakup init` made for this installation."""

    __tablename__ = "installation"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # One salt per installation for receipt derivations: the receipt's 80 bits,
    # not the salt, are what stop guessing; a per-case salt would need the case
    # before the lookup.
    receipt_salt: Mapped[bytes] = mapped_column(LargeBinary(16))
    recovery_public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    # The key of the reporter's follow-up cookie (SecretBox): it carries the receipt's
    # derived keys from one page to the next, so that every form can answer with a redirect.
    session_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_on: Mapped[date] = mapped_column(Date)
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)


class Staff(Base):
    __tablename__ = "staff"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    role: Mapped[str] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    # The private key, SecretBox-wrapped under the password-derived key.
    wrapped_private_key: Mapped[bytes] = mapped_column(LargeBinary(72))
    password_salt: Mapped[bytes] = mapped_column(LargeBinary(16))
    password_verifier: Mapped[bytes] = mapped_column(LargeBinary(32))
    # The TOTP secret, wrapped under the same password-derived key as the
    # private key: a copy of the database holds no usable second factor.
    # None until the staff member enrols (at first login, or after a reset).
    totp_box: Mapped[bytes | None] = mapped_column(LargeBinary(80))
    # The last TOTP time step accepted: a code is good once.
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    # A daily digest mail at a fixed hour, whether or not anything is due.
    wants_digest: Mapped[bool] = mapped_column(Boolean, default=False)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role"),)


class StaffSession(Base):
    """A logged-in staff member. The cookie holds the session id and a secret;
    only a hash of the id is stored, and the staff private key is stored
    sealed under the secret, so the database alone unlocks nothing."""

    __tablename__ = "staff_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(16))
    sealed_keys: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __table_args__ = (CheckConstraint(_in("state", SESSION_STATES), name="state"),)


class StaffDevice(Base):
    """A browser a staff member has logged in from (password and code): its cookie gives it an
    allowance of its own, so that guesses from elsewhere, which lock the account for new
    browsers, cannot keep out someone with the password, the code and their usual browser
    (OWASP, "Slow Down Online Guessing Attacks with Device Cookies")."""

    __tablename__ = "staff_devices"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RateWindow(Base):
    """A limit shared by every process: attempts of one kind in the current minute.

    Reserved before the expensive work (an Argon2id run) under a row lock, so requests
    arriving together cannot all pass a check made before any of them was counted."""

    __tablename__ = "rate_windows"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used: Mapped[int] = mapped_column(Integer, default=0)


class Case(Base):
    __tablename__ = "cases"
    id: Mapped[int] = random_key_column()
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    category: Mapped[str] = mapped_column(String(32))
    routing: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="received")
    received_on: Mapped[date] = mapped_column(Date)
    acknowledged_on: Mapped[date | None] = mapped_column(Date)
    acknowledge_by: Mapped[date] = mapped_column(Date)
    feedback_by: Mapped[date] = mapped_column(Date)
    # The conversation key: the report, the reporter's messages and files, replies to
    # the reporter and check-ins are sealed to it; staff and the reporter hold it.
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    # The staff key: the reporter's identity, notes, the finding, discipline, protected
    # names and flag records are sealed to it; staff and the recovery key hold it, never
    # the reporter. None for a case filed before it existed, until a holder opens it.
    staff_public_key: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    # The report's fields, sealed as one JSON document.
    report_box: Mapped[bytes] = mapped_column(LargeBinary)
    # Name and contact, sealed apart from the report to the staff key. Anonymous
    # reports get a box too (of an empty identity), and every identity box is
    # padded to one fixed size, so the table does not tell anonymous reports
    # from confidential ones.
    identity_box: Mapped[bytes] = mapped_column(LargeBinary)
    # First half of Argon2id(receipt): how a returning reporter finds the case.
    receipt_lookup: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    # The reporter said they face retaliation (kept here for a fast case list).
    retaliation_flag: Mapped[bool] = mapped_column(Boolean, default=False)
    closed_on: Mapped[date | None] = mapped_column(Date)
    # Escalated to the Audit Committee (and not returned): from then on the Committee,
    # not the Compliance Officer, concludes and closes the case.
    escalated_on: Mapped[date | None] = mapped_column(Date)
    # How the report came in: the web form, or what an operator typed in through the API.
    channel: Mapped[str] = mapped_column(String(16), default="web", server_default="web")
    # The assessment (cases/lifecycle.py): coded staff choices, plain so they can be counted.
    # The investigation plan is sealed to the staff key; the allegation types are case_allegations.
    admissibility: Mapped[str | None] = mapped_column(String(32))
    priority: Mapped[str | None] = mapped_column(String(16))
    detriment_risk: Mapped[str | None] = mapped_column(String(8))
    business_unit_id: Mapped[int | None] = mapped_column(ForeignKey("list_entries.id"))
    country_id: Mapped[int | None] = mapped_column(ForeignKey("list_entries.id"))
    assessed_on: Mapped[date | None] = mapped_column(Date)
    investigation_due: Mapped[date | None] = mapped_column(Date)
    plan_box: Mapped[bytes | None] = mapped_column(LargeBinary)
    # A high risk of detriment to the reporter: the case is watched for retaliation.
    retaliation_watch: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    # The day a reply was marked as the feedback (EU Art. 9(1)(f)): the deadline is met.
    feedback_given_on: Mapped[date | None] = mapped_column(Date)
    # How the case ended (vocabulary.CLOSURES); to whom it was referred is sealed to the staff key.
    closure: Mapped[str | None] = mapped_column(String(32))
    referral_box: Mapped[bytes | None] = mapped_column(LargeBinary)

    grants: Mapped[list["Grant"]] = relationship(back_populates="case", cascade="all, delete-orphan")
    messages: Mapped[list["Message"]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="Message.number"
    )
    attachments: Mapped[list["Attachment"]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="Attachment.number"
    )

    __table_args__ = (
        CheckConstraint(_in("category", CATEGORIES), name="category"),
        CheckConstraint(_in("routing", ROUTINGS), name="routing"),
        CheckConstraint(_in("status", STATUSES), name="status"),
        CheckConstraint(_in("channel", CHANNELS), name="channel"),
        CheckConstraint(_in("admissibility", ADMISSIBILITY), name="admissibility"),
        CheckConstraint(_in("priority", PRIORITIES), name="priority"),
        CheckConstraint(_in("detriment_risk", DETRIMENT_RISKS), name="detriment_risk"),
        CheckConstraint(_in("closure", CLOSURES), name="closure"),
        # The case list filters and sorts on these (see caselist.py).
        Index("ix_cases_received_on", "received_on"),
        Index("ix_cases_status_received_on", "status", "received_on"),
        Index("ix_cases_category_received_on", "category", "received_on"),
        Index("ix_cases_status_acknowledge_by", "status", "acknowledge_by"),
        Index("ix_cases_status_feedback_by", "status", "feedback_by"),
        Index(
            "ix_cases_flagged_received_on",
            "received_on",
            sqlite_where=text("retaliation_flag"),
            postgresql_where=text("retaliation_flag"),
        ),
    )


class Grant(Base):
    """The case private keys sealed to one reader: a staff member, the recovery key or the reporter.

    ``sealed_key`` is the conversation key; ``staff_sealed_key`` the staff key, which
    the reporter never gets (None too, for a case not yet given a staff key).
    """

    __tablename__ = "grants"
    id: Mapped[int] = random_key_column()
    case_id: Mapped[int] = mapped_column(RandomKey, ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    holder: Mapped[str] = mapped_column(String(16))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    sealed_key: Mapped[bytes] = mapped_column(LargeBinary(81))
    staff_sealed_key: Mapped[bytes | None] = mapped_column(LargeBinary(81))

    case: Mapped[Case] = relationship(back_populates="grants")
    __table_args__ = (
        CheckConstraint(_in("holder", HOLDERS), name="holder"),
        CheckConstraint("(holder = 'staff') = (staff_id IS NOT NULL)", name="staff_holder_has_staff_id"),
        CheckConstraint("holder <> 'reporter' OR staff_sealed_key IS NULL", name="reporter_has_no_staff_key"),
        UniqueConstraint("case_id", "holder", "staff_id", name="one_per_holder"),
        # The case list starts from "cases I hold a grant for".
        Index("ix_grants_staff_id_case_id", "staff_id", "case_id"),
    )


class Message(Base):
    __tablename__ = "messages"
    id: Mapped[int] = random_key_column()
    case_id: Mapped[int] = mapped_column(RandomKey, ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    # The conversation's order within its case (see numbers.py): the ids are random.
    number: Mapped[int] = mapped_column(Integer)
    sender: Mapped[str] = mapped_column(String(16))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    sent_on: Mapped[date] = mapped_column(Date)
    # The reporter says they face retaliation: a flag, kept in plain on purpose.
    retaliation: Mapped[bool] = mapped_column(Boolean, default=False)
    # A staff reply marked as the feedback the EU Directive requires (Art. 9(1)(f)).
    feedback: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    body_box: Mapped[bytes] = mapped_column(LargeBinary)

    case: Mapped[Case] = relationship(back_populates="messages")
    attachments: Mapped[list["Attachment"]] = relationship(back_populates="message", order_by="Attachment.number")
    __table_args__ = (
        CheckConstraint(_in("sender", SENDERS), name="sender"),
        UniqueConstraint("case_id", "number"),
    )


class Attachment(Base):
    __tablename__ = "attachments"
    id: Mapped[int] = random_key_column()
    case_id: Mapped[int] = mapped_column(RandomKey, ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    # None: filed with the report itself.
    message_id: Mapped[int | None] = mapped_column(RandomKey, ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    # The file's number within its case, as its URL names it.
    number: Mapped[int] = mapped_column(Integer)
    # {"name", "content_type", "size", "key"} sealed to the case.
    meta_box: Mapped[bytes] = mapped_column(LargeBinary)
    # secretstream ciphertext of the padded file.
    blob: Mapped[bytes] = mapped_column(LargeBinary)

    case: Mapped[Case] = relationship(back_populates="attachments")
    message: Mapped[Message | None] = relationship(back_populates="attachments")
    __table_args__ = (UniqueConstraint("case_id", "number"),)


class Finding(Base):
    """The conclusion of an investigation: outcome in plain, reasoning sealed."""

    __tablename__ = "findings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(RandomKey, ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    outcome: Mapped[str] = mapped_column(String(32))
    narrative_box: Mapped[bytes] = mapped_column(LargeBinary)
    # The root cause's code, plain so it can be counted (required when substantiated, else optional);
    # its explanation is sealed in root_cause_box (an empty box when there is none).
    root_cause: Mapped[str | None] = mapped_column(String(32))
    root_cause_box: Mapped[bytes] = mapped_column(LargeBinary)
    decided_by: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    decided_on: Mapped[date] = mapped_column(Date)
    __table_args__ = (
        CheckConstraint(_in("outcome", FINDINGS), name="outcome"),
        CheckConstraint(_in("root_cause", ROOT_CAUSES), name="root_cause"),
        # The dashboard counts findings from this index alone: the rows themselves are wide (sealed boxes).
        Index("ix_findings_case_id_outcome", "case_id", "outcome", "root_cause", "decided_on"),
    )


class ListEntry(Base):
    """One entry of a list the administrator keeps for coding cases: a business unit or a country.

    Retired, not deleted, once cases use it: the codes of old cases must still resolve."""

    __tablename__ = "list_entries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    __table_args__ = (
        CheckConstraint(_in("kind", LIST_KINDS), name="kind"),
        UniqueConstraint("kind", "label", name="one_label_per_kind"),
    )


class CaseAllegation(Base):
    """One allegation type an assessment found in a case (several may apply)."""

    __tablename__ = "case_allegations"
    case_id: Mapped[int] = mapped_column(RandomKey, ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    __table_args__ = (CheckConstraint(_in("code", ALLEGATION_TYPES), name="code"),)


class CaseLink(Base):
    """Two cases linked, stored once from each side: "related" both ways, or "duplicate_of" one
    way and "duplicated_by" the other. Made by someone who holds both cases."""

    __tablename__ = "case_links"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(RandomKey, ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    other_id: Mapped[int] = mapped_column(RandomKey, ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    linked_by: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    linked_on: Mapped[date] = mapped_column(Date)
    __table_args__ = (
        CheckConstraint(_in("kind", LINK_KINDS), name="kind"),
        CheckConstraint("case_id <> other_id", name="not_itself"),
        UniqueConstraint("case_id", "other_id", name="once_per_pair"),
    )


class RemediationAction(Base):
    """Something the company does about a finding: what and who are sealed, the rest is plain
    so that overdue actions can be listed and reminded without a key."""

    __tablename__ = "remediation_actions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(RandomKey, ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    # The action's number within its case, as its URL names it.
    number: Mapped[int] = mapped_column(Integer)
    what_box: Mapped[bytes] = mapped_column(LargeBinary)
    # A staff member or an outside party, sealed.
    owner_box: Mapped[bytes] = mapped_column(LargeBinary)
    due_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="open")
    # What shows it was done (sealed); None until given.
    evidence_box: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_by: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    created_on: Mapped[date] = mapped_column(Date)
    updated_on: Mapped[date] = mapped_column(Date)
    __table_args__ = (
        CheckConstraint(_in("status", REMEDIATION_STATUSES), name="status"),
        UniqueConstraint("case_id", "number"),
        # With the case: the dashboard counts overdue actions in scope from the index alone.
        Index("ix_remediation_actions_status_due_on", "status", "due_on", "case_id"),
    )


class Minutes(Base):
    """Minutes of a call or meeting with the reporter (EU Art. 18(2)-(4)), sealed to the
    conversation key: the reporter reads them and confirms or corrects them."""

    __tablename__ = "minutes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(RandomKey, ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    held_on: Mapped[date] = mapped_column(Date)
    body_box: Mapped[bytes] = mapped_column(LargeBinary)
    recorded_by: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    # The reporter's answer, its day, and their correction (sealed to the conversation key).
    answer: Mapped[str | None] = mapped_column(String(16))
    answered_on: Mapped[date | None] = mapped_column(Date)
    correction_box: Mapped[bytes | None] = mapped_column(LargeBinary)
    __table_args__ = (
        CheckConstraint(_in("kind", MEETING_KINDS), name="kind"),
        CheckConstraint(_in("answer", MINUTES_ANSWERS), name="answer"),
        UniqueConstraint("case_id", "number"),
    )


class Disclosure(Base):
    """The reporter's identity passed outside the case team: to whom (sealed), on which legal
    basis, and whether the reporter was told (EU Art. 16(2)-(3))."""

    __tablename__ = "identity_disclosures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(RandomKey, ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    recipient_box: Mapped[bytes] = mapped_column(LargeBinary)
    basis: Mapped[str] = mapped_column(String(32))
    reporter_told: Mapped[bool] = mapped_column(Boolean)
    disclosed_by: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    disclosed_on: Mapped[date] = mapped_column(Date)
    __table_args__ = (CheckConstraint(_in("basis", DISCLOSURE_BASES), name="basis"),)


class AuditEntry(Base):
    """One hash-chained line of the audit log: who did what to which case, never content."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    action: Mapped[str] = mapped_column(String(40))
    case_id: Mapped[int | None] = mapped_column(RandomKey, ForeignKey("cases.id"), index=True)
    detail: Mapped[str] = mapped_column(String(500), default="")
    entry_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class ReporterEvent(Base):
    """An audit entry a reporter caused, waiting for its day to end.

    Appended to the chain as the day's batch once the day is over (``audit.append_past_days``):
    written straight into the chain, its place between timestamped entries (anyone can make one
    with a failed login) would time the reporter's act to the second.
    """

    __tablename__ = "reporter_events"
    id: Mapped[int] = random_key_column()
    day: Mapped[date] = mapped_column(Date, index=True)
    action: Mapped[str] = mapped_column(String(40))
    case_id: Mapped[int] = mapped_column(RandomKey, ForeignKey("cases.id", ondelete="CASCADE"))
    detail: Mapped[str] = mapped_column(String(500), default="")


class AuditHead(Base):
    """The newest entry's hash. Appending locks this row, so entries chain in one order."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int] = mapped_column(Integer)
    entry_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)


class Implicated(Base):
    """A staff member a case implicates: they lose their grant and cannot get it back
    unless an Audit Committee member overrides, on the record."""

    __tablename__ = "implicated_staff"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(RandomKey, ForeignKey("cases.id", ondelete="CASCADE"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    named_by: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    named_on: Mapped[date] = mapped_column(Date)
    # An Audit Committee member granted the case to them all the same (logged with its reason).
    overridden: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    __table_args__ = (UniqueConstraint("case_id", "staff_id", name="once_per_case"),)


class DisciplinaryOutcome(Base):
    """What was done about one subject of a concluded case."""

    __tablename__ = "disciplinary_outcomes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(RandomKey, ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    subject_box: Mapped[bytes] = mapped_column(LargeBinary)  # the subject's name, sealed
    subject_role: Mapped[str] = mapped_column(String(100))  # e.g. "regional sales director"
    subject_type: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(40))
    effective_on: Mapped[date] = mapped_column(Date)
    decided_by: Mapped[str] = mapped_column(String(100))  # the deciding body or office
    notes_box: Mapped[bytes] = mapped_column(LargeBinary)
    recorded_by: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    __table_args__ = (
        CheckConstraint(_in("subject_type", SUBJECT_TYPES), name="subject_type"),
        CheckConstraint(_in("action", DISCIPLINARY_ACTIONS), name="action"),
        # The register's period; with the rest, the dashboard's consistency view reads the index alone.
        Index("ix_disciplinary_outcomes_effective_on", "effective_on", "case_id", "subject_type", "action"),
    )


class ProtectedPerson(Base):
    """Someone a case's reporting protects: found by a keyed hash of their employee id only."""

    __tablename__ = "protected_persons"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(RandomKey, ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    # HMAC-SHA256 under a key kept in the settings, never in the database.
    employee_hash: Mapped[bytes] = mapped_column(LargeBinary(32), index=True)
    name_box: Mapped[bytes] = mapped_column(LargeBinary)
    role: Mapped[str] = mapped_column(String(16))
    added_by: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    added_on: Mapped[date] = mapped_column(Date)
    __table_args__ = (CheckConstraint(_in("role", PROTECTED_ROLES), name="role"),)


class RetaliationFlag(Base):
    """A sign that someone may face retaliation, worked like a small case."""

    __tablename__ = "retaliation_flags"
    id: Mapped[int] = random_key_column()
    case_id: Mapped[int] = mapped_column(RandomKey, ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    # The flag's number within its case, as its URL names it.
    number: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16))
    opened_on: Mapped[date] = mapped_column(Date)
    respond_by: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="open")
    # For an HR match: which adverse action, on which date (no employee id is kept).
    form: Mapped[str | None] = mapped_column(String(32))
    action_on: Mapped[date | None] = mapped_column(Date)
    resolution: Mapped[str | None] = mapped_column(String(24))
    resolution_box: Mapped[bytes | None] = mapped_column(LargeBinary)
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    resolved_on: Mapped[date | None] = mapped_column(Date)
    __table_args__ = (
        CheckConstraint(_in("source", FLAG_SOURCES), name="source"),
        CheckConstraint(_in("status", FLAG_STATUSES), name="status"),
        Index("ix_retaliation_flags_status_respond_by", "status", "respond_by"),
        UniqueConstraint("case_id", "number"),
    )


class CheckIn(Base):
    """A post-closure question to the reporter: delivered once, answered at most once."""

    __tablename__ = "check_ins"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(RandomKey, ForeignKey("cases.id", ondelete="CASCADE"))
    days_after_closure: Mapped[int] = mapped_column(Integer)
    delivered_on: Mapped[date] = mapped_column(Date)
    answered_on: Mapped[date | None] = mapped_column(Date)
    retaliation: Mapped[bool | None] = mapped_column(Boolean)
    __table_args__ = (UniqueConstraint("case_id", "days_after_closure", name="once"),)


class OutboxMail(Base):
    """A notification to a staff member, written in the same transaction as its event.

    It carries no case content: only that something needs attention, a link,
    and the case reference where the settings allow. ``dedupe_key`` makes a
    reminder or digest once-only however often the scheduler runs.
    """

    __tablename__ = "outbox"
    id: Mapped[int] = random_key_column()
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(String(4000))
    kind: Mapped[str] = mapped_column(String(32))
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # A sender claims a mail until this time, so two senders do not send it twice.
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str] = mapped_column(String(200), default="")
    __table_args__ = (Index("ix_outbox_pending", "sent_at", "next_attempt_at"),)
