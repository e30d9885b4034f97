"""Passing the reporter's identity outside the case team (EU Directive 2019/1937 Art. 16).

The identity stays with those who hold the case. When the law obliges the team to pass it
on (to an authority investigating, in judicial proceedings, or to safeguard the rights of
defence of the person concerned), or the reporter consents, the disclosure is recorded:
to whom (sealed to the case's staff key), on which basis, and whether the reporter was told.
Art. 16(3): the reporter is told first, in writing with the reasons, unless telling them
would jeopardise the investigation or the proceedings; only those two bases allow that.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from crypto import boxes

from . import audit
from .access import granted_case, staff_public_key
from .errors import InvalidInput
from .identity import Identity
from .models import Disclosure
from .notes import add_note
from .vocabulary import DISCLOSURE_BASES, DISCLOSURE_MAY_WITHHOLD
from .workflow import add_reply

MAX_TEXT = 2_000
WITHHELD_NOTE = (
    "The reporter was not told of this disclosure: telling them would jeopardise the investigation or the proceedings."
)


@dataclass(frozen=True)
class DisclosureDraft:
    """A disclosure as staff submit it, checked by ``parse``."""

    recipient: str
    basis: str
    # What the reporter reads on their follow-up page; "" when they are not told.
    explanation: str

    def __repr__(self) -> str:  # the recipient is case content
        return f"DisclosureDraft(basis={self.basis!r}, told={bool(self.explanation)})"

    @property
    def reporter_told(self) -> bool:
        return bool(self.explanation)

    @classmethod
    def parse(cls, recipient: str, basis: str, explanation: str, withhold: bool) -> "DisclosureDraft":
        """Raises ``InvalidInput`` naming each bad field."""
        recipient, explanation = recipient.strip(), explanation.strip()
        errors = {}
        if not recipient or len(recipient) > 200:
            errors["recipient"] = "Say to whom the identity goes (an authority, a court, counsel), in at most 200 characters."
        if basis not in DISCLOSURE_BASES:
            errors["basis"] = "Choose the legal basis."
        elif withhold and basis not in DISCLOSURE_MAY_WITHHOLD:
            errors["withhold"] = "Only an authority's investigation or judicial proceedings allow not telling the reporter."
        if withhold:
            explanation = ""
        elif len(explanation) < 20 or len(explanation) > MAX_TEXT:
            errors["explanation"] = "Tell the reporter, in writing, to whom and why their identity is passed on."
        if errors:
            raise InvalidInput(fields=errors)
        return cls(recipient, basis, explanation)


@dataclass(frozen=True)
class DisclosureView:
    recipient: str
    basis: str
    reporter_told: bool
    disclosed_by: str
    disclosed_on: date


async def disclose(session: AsyncSession, identity: Identity, reference: str, draft: DisclosureDraft, now: datetime) -> None:
    """Record a disclosure of the reporter's identity and tell the reporter, unless withheld. Commits."""
    today = now.astimezone(UTC).date()
    async with session.begin():
        case, case_keys = await granted_case(session, identity, reference, "disclose")
        if not boxes.unseal_json(case_keys.staff_only, case.identity_box):
            raise InvalidInput(fields={"recipient": "The reporter gave no name: there is no identity to pass on."})
        session.add(
            Disclosure(
                case_id=case.id,
                recipient_box=boxes.seal(staff_public_key(case), draft.recipient.encode()),
                basis=draft.basis,
                reporter_told=draft.reporter_told,
                disclosed_by=identity.staff.id,
                disclosed_on=today,
            )
        )
        if draft.reporter_told:
            await add_reply(session, identity, case, draft.explanation, today)
        else:
            await add_note(session, identity, case, WITHHELD_NOTE, now)
        await audit.record(
            session,
            "identity.disclosed",
            actor_id=identity.staff.id,
            case_id=case.id,
            detail=f"{draft.basis}; reporter {'told' if draft.reporter_told else 'not told'}",
            at=now,
        )


def views(rows: list[Disclosure], staff_key, emails: dict[int, str]) -> list[DisclosureView]:
    """A case's disclosures (``Disclosure.of_case``), opened with its staff key."""
    return [
        DisclosureView(
            boxes.unseal(staff_key, d.recipient_box).decode(),
            d.basis,
            d.reporter_told,
            emails.get(d.disclosed_by, ""),
            d.disclosed_on,
        )
        for d in rows
    ]
