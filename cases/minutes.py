"""Minutes of a call or meeting with the reporter (EU Art. 18(2)-(4)).

Staff record them, sealed to the conversation key so that the reporter reads them on the
follow-up page with their receipt; the reporter confirms them or corrects them, once, and
the answer (its day only, like every act of a reporter) is kept with the minutes. The
audit log records that minutes were recorded, never what they say.
"""

from dataclasses import dataclass
from datetime import date, datetime

from nacl.public import PrivateKey, PublicKey
from sqlalchemy.ext.asyncio import AsyncSession

from crypto import boxes

from . import audit
from .access import granted_case
from .errors import InvalidInput
from .identity import Identity
from .models import Minutes
from .numbers import add_numbered
from .vocabulary import MEETING_KINDS, MINUTES_ANSWERS

MAX_MINUTES = 20_000


@dataclass(frozen=True)
class MinutesDraft:
    kind: str
    held_on: date
    text: str

    def __repr__(self) -> str:  # what was said never goes to a log
        return f"MinutesDraft(kind={self.kind!r}, held_on={self.held_on})"

    @classmethod
    def parse(cls, kind: str, held_on: str, text: str, today: date) -> "MinutesDraft":
        """Check the staff form's fields. Raises ``InvalidInput`` naming each bad one."""
        errors: dict[str, str] = {}
        if kind not in MEETING_KINDS:
            errors["kind"] = "Choose a call, a video call or a meeting."
        try:
            day = date.fromisoformat(held_on.strip())
        except ValueError:
            errors["held_on"] = "Give the day it was held, as YYYY-MM-DD."
            day = today
        else:
            if day > today:
                errors["held_on"] = "Minutes are of a call or meeting that has taken place."
        text = text.strip()
        if not text:
            errors["text"] = "Write what was said."
        elif len(text) > MAX_MINUTES:
            errors["text"] = f"At most {MAX_MINUTES:,} characters (this has {len(text):,})."
        if errors:
            raise InvalidInput(fields=errors)
        return cls(kind, day, text)


@dataclass(frozen=True)
class MinutesView:
    """Minutes as read with the conversation key, by staff or by the reporter."""

    number: int
    kind: str
    held_on: date
    text: str
    answer: str | None
    answered_on: date | None
    correction: str
    recorded_by: str = ""  # staff only: the reporter is not told who wrote them

    @property
    def kind_label(self) -> str:
        return MEETING_KINDS[self.kind]

    @property
    def answer_label(self) -> str:
        return MINUTES_ANSWERS[self.answer] if self.answer else "Awaiting the reporter's answer"

    def __repr__(self) -> str:
        return f"MinutesView({self.number}, answer={self.answer!r})"


def minutes_views(rows, case_key: PrivateKey, emails: dict[int, str] | None = None) -> list[MinutesView]:
    """The minutes of a case, opened with its conversation key; ``emails`` (staff only) names their authors."""
    return [
        MinutesView(
            number=m.number,
            kind=m.kind,
            held_on=m.held_on,
            text=boxes.unseal(case_key, m.body_box).decode("utf-8"),
            answer=m.answer,
            answered_on=m.answered_on,
            correction=boxes.unseal(case_key, m.correction_box).decode("utf-8") if m.correction_box else "",
            recorded_by=(emails or {}).get(m.recorded_by, ""),
        )
        for m in rows
    ]


async def record_minutes(session: AsyncSession, identity: Identity, reference: str, draft: MinutesDraft, now: datetime) -> int:
    """Record minutes on a case this staff member holds (step "minutes"); return their number. Commits."""
    async with session.begin():
        case, _ = await granted_case(session, identity, reference, "minutes")
        minutes = Minutes(
            case_id=case.id,
            kind=draft.kind,
            held_on=draft.held_on,
            # The conversation key, not the staff key: the reporter must read them to confirm them.
            body_box=boxes.seal(PublicKey(case.public_key), draft.text.encode("utf-8")),
            recorded_by=identity.staff.id,
        )
        await add_numbered(session, minutes)  # numbered under the case lock
        await audit.record(
            session,
            "minutes.recorded",
            actor_id=identity.staff.id,
            case_id=case.id,
            detail=f"minutes {minutes.number}, {draft.kind}",
            at=now,
        )
    return minutes.number
