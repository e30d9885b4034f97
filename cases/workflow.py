"""Case steps taken by staff. (The staff site that calls them comes with login.)"""

from datetime import date

from nacl.public import PublicKey
from sqlalchemy.ext.asyncio import AsyncSession

from crypto import boxes

from . import deadlines
from .context import Context
from .mailbox import check_message
from .models import Case, Message


async def acknowledge(session: AsyncSession, ctx: Context, case_id: int, today: date) -> None:
    """Mark the report acknowledged; the feedback deadline now runs from today. Commits."""
    settings = ctx.settings
    async with session.begin():
        case = await session.get_one(Case, case_id)
        case.status = "acknowledged"
        case.acknowledged_on = today
        case.feedback_by = deadlines.feedback_by(
            case.received_on, today, days=settings.acknowledge_days, months=settings.feedback_months
        )


async def reply(session: AsyncSession, case_id: int, staff_id: int, body: str, today: date) -> None:
    """A message from staff to the reporter, sealed to the case. Commits."""
    body = check_message(body, [])
    async with session.begin():
        case = await session.get_one(Case, case_id)
        session.add(
            Message(
                case_id=case.id,
                sender="staff",
                staff_id=staff_id,
                sent_on=today,
                body_box=boxes.seal(PublicKey(case.public_key), body.encode("utf-8")),
            )
        )
