"""Internal notes: what staff write for each other about a case, sealed to its staff key.

The reporter never reads them, and neither does the audit log: a reason given
for a step (an escalation, an override, a reveal, a return) is a note, and the
audit log records only the step's coded kind.
"""

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from crypto import boxes

from .access import staff_public_key
from .identity import Identity
from .models import Case, Message
from .numbers import add_numbered


async def add_note(session: AsyncSession, identity: Identity, case: Case, text: str, now: datetime) -> None:
    """Add a note inside the caller's transaction."""
    await add_numbered(
        session,
        Message(
            case_id=case.id,
            sender="note",
            staff_id=identity.staff.id,
            sent_on=now.astimezone(UTC).date(),
            body_box=boxes.seal(staff_public_key(case), text.encode("utf-8")),
        ),
    )
