"""The discipline register: outcomes per subject of a concluded case, and the Committee's view of them.

Subject names and notes are sealed to the case's staff key (never the reporter's); the subject's role and type,
the action, its date and the deciding body stay plain, so the register can
show whether like findings met like discipline without opening any case.
"""

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import not_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crypto import boxes

from . import audit
from .access import granted_case, require_role, staff_public_key
from .errors import InvalidInput
from .exclusion import implicated_clause
from .identity import Identity
from .models import Case, DisciplinaryOutcome, Finding
from .spreadsheet import write_csv
from .vocabulary import CATEGORIES, COMMITTEE_ROLES, DISCIPLINARY_ACTIONS, FINDINGS, SUBJECT_TYPES

OUTCOME_FIELDS = ("subject", "subject_role", "subject_type", "action", "effective_on", "decided_by", "notes")


@dataclass(frozen=True)
class Outcome:
    """One subject's disciplinary outcome: as staff submit it (checked by ``parse``), and as the case file shows it."""

    subject: str
    subject_role: str
    subject_type: str
    action: str
    effective_on: date
    decided_by: str
    notes: str = ""

    def __repr__(self) -> str:  # the subject's name and the notes are case content
        return f"Outcome(action={self.action!r})"

    @classmethod
    def parse(
        cls, *, subject: str, subject_role: str, subject_type: str, action: str, effective_on: str, decided_by: str, notes: str
    ) -> "Outcome":
        """Raises ``InvalidInput`` naming each bad field."""
        errors: dict[str, str] = {}
        subject, subject_role, decided_by = subject.strip(), subject_role.strip(), decided_by.strip()
        if not subject:
            errors["subject"] = "Name the subject (kept sealed)."
        if not subject_role or len(subject_role) > 100:
            errors["subject_role"] = "Give the subject's role or position (up to 100 characters)."
        if subject_type not in SUBJECT_TYPES:
            errors["subject_type"] = "Choose employee, officer, director or third party."
        if action not in DISCIPLINARY_ACTIONS:
            errors["action"] = "Choose an action from the policy's list."
        if not decided_by or len(decided_by) > 100:
            errors["decided_by"] = "Say who decided (the body or office, up to 100 characters)."
        try:
            effective = date.fromisoformat(effective_on.strip())
        except ValueError:
            errors["effective_on"] = "Give a date as YYYY-MM-DD."
        if errors:
            raise InvalidInput(fields=errors)
        return cls(subject, subject_role, subject_type, action, effective, decided_by, notes.strip())


async def record_outcome(session: AsyncSession, identity: Identity, reference: str, outcome: Outcome, now: datetime) -> None:
    """Add one subject's disciplinary outcome to a concluded (or closed) case. Commits."""
    async with session.begin():
        case, _ = await granted_case(session, identity, reference, "discipline")
        public = staff_public_key(case)
        session.add(
            DisciplinaryOutcome(
                case_id=case.id,
                subject_box=boxes.seal(public, outcome.subject.encode()),
                subject_role=outcome.subject_role,
                subject_type=outcome.subject_type,
                action=outcome.action,
                effective_on=outcome.effective_on,
                decided_by=outcome.decided_by,
                notes_box=boxes.seal(public, outcome.notes.encode()),
                recorded_by=identity.staff.id,
            )
        )
        await audit.record(
            session, "discipline.recorded", actor_id=identity.staff.id, case_id=case.id, detail=outcome.action, at=now
        )


@dataclass(frozen=True)
class RegisterRow:
    reference: str
    category: str
    finding: str
    subject_type: str
    subject_role: str
    action: str
    effective_on: date
    decided_by: str


async def register(session: AsyncSession, identity: Identity, start: date, end: date) -> list[RegisterRow]:
    """Every outcome with an effective date in [start, end], for the Audit Committee; no sealed field is read."""
    require_role(identity, COMMITTEE_ROLES)
    rows = await session.execute(
        select(Case.reference, Case.category, Finding.outcome, DisciplinaryOutcome)
        .join(Case, Case.id == DisciplinaryOutcome.case_id)
        .outerjoin(Finding, Finding.case_id == Case.id)
        .where(DisciplinaryOutcome.effective_on.between(start, end), not_(implicated_clause(identity.staff.id)))
        .order_by(
            Case.category,
            DisciplinaryOutcome.action,
            DisciplinaryOutcome.subject_type,
            DisciplinaryOutcome.effective_on,
            Case.reference,
        )
    )
    return [
        RegisterRow(reference, category, finding or "", o.subject_type, o.subject_role, o.action, o.effective_on, o.decided_by)
        for reference, category, finding, o in rows.all()
    ]


def summary(rows: list[RegisterRow]) -> list[tuple[str, str, str, int]]:
    """(category, finding, action, count): like findings side by side, to see whether discipline was alike."""
    counts: dict[tuple[str, str, str], int] = {}
    for row in rows:
        key = (row.category, row.finding, row.action)
        counts[key] = counts.get(key, 0) + 1
    return [(*key, n) for key, n in sorted(counts.items())]


CSV_HEADER = ["reference", "category", "finding", "subject_type", "subject_role", "action", "effective_on", "decided_by"]


async def export_csv(session: AsyncSession, identity: Identity, start: date, end: date, now: datetime) -> str:
    """The register as CSV (labels, not codes, where people read them); the export is audited. Commits."""
    async with session.begin():
        rows = await register(session, identity, start, end)
        await audit.record(
            session, "export", actor_id=identity.staff.id, detail=f"discipline register {start}..{end}, {len(rows)} rows", at=now
        )
    # Every cell through spreadsheet.cell: a role or a deciding body typed as a formula is quoted.
    return write_csv(
        CSV_HEADER,
        (
            [
                row.reference,
                CATEGORIES[row.category],
                FINDINGS.get(row.finding, ""),
                SUBJECT_TYPES[row.subject_type],
                row.subject_role,
                DISCIPLINARY_ACTIONS[row.action],
                row.effective_on.isoformat(),
                row.decided_by,
            ]
            for row in rows
        ),
    )
