"""Numbers within a case: the order of its conversation, and the names its files, flags and
remediation actions go by in URLs.

Row ids are random (models.py), so they neither order a conversation nor name a file
without telling a reader how many rows of other cases lie between. A case numbers its
own messages, files, flags, remediation actions and minutes 1, 2, 3, ... instead. The next number
is read and written under a lock on the case row, so two writers to one case cannot take
the same number.
"""

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Attachment, Case, Message, Minutes, RemediationAction, RetaliationFlag

Numbered = type[Message] | type[Attachment] | type[RetaliationFlag] | type[RemediationAction] | type[Minutes]


async def lock_case(session: AsyncSession, case_id: int) -> None:
    """Hold the case row until the transaction ends (SQLite's write lock already serialises writers)."""
    await session.execute(select(Case.id).where(Case.id == case_id).with_for_update())


async def _next(session: AsyncSession, model: Numbered, case_id: int) -> int:
    last = await session.scalar(select(func.max(model.number)).where(model.case_id == case_id))
    return (last or 0) + 1


async def add_numbered(session: AsyncSession, row: Message | RetaliationFlag | RemediationAction | Minutes) -> None:
    """Add a message (with its files), a flag, a remediation action or minutes to its case under
    the next numbers, inside the caller's transaction."""
    await lock_case(session, row.case_id)
    row.number = await _next(session, type(row), row.case_id)
    if isinstance(row, Message) and row.attachments:
        first = await _next(session, Attachment, row.case_id)
        for number, attachment in enumerate(row.attachments, start=first):
            attachment.number = number
    session.add(row)
