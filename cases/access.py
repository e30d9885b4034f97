"""Who may touch which case: the step's rules for the role and the case's state, a grant for the content.

A grant is the only way to a case's content: holding the case key sealed to
your own public key. ``cases/steps.py`` says which steps each role may take,
and when. Without a grant a case answers "not found" (never "forbidden"), so
its existence is not confirmed either. Administrators have no case roles at all.
"""

from dataclasses import dataclass

from nacl.public import PrivateKey, PublicKey
from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crypto import boxes, keys

from . import steps
from .content import seal_identity
from .errors import Forbidden, NoSuchCase
from .exclusion import is_implicated, routing_allows
from .identity import Identity
from .models import (
    Case,
    DisciplinaryOutcome,
    Disclosure,
    Finding,
    Grant,
    Installation,
    Message,
    ProtectedPerson,
    RemediationAction,
    RetaliationFlag,
    Staff,
)


@dataclass(frozen=True)
class CaseKeys:
    """A case's two private keys: the conversation (the reporter holds it too) and the staff key.

    ``staff`` is None only for a case filed before staff keys existed that no holder has opened
    since (``granted_case`` gives it one); nothing is then sealed to a staff key yet.
    """

    conversation: PrivateKey
    staff: PrivateKey | None

    def __repr__(self) -> str:  # never print a case key
        return "CaseKeys(...)"

    @property
    def staff_only(self) -> PrivateKey:
        """The staff key (``granted_case`` always has one)."""
        if self.staff is None:
            raise NoSuchCase()
        return self.staff


def staff_public_key(case: Case) -> PublicKey:
    """Where staff-only content of ``case`` is sealed: its staff key (its conversation key
    for a case not yet upgraded, whose staff-only boxes the upgrade re-seals)."""
    return PublicKey(case.staff_public_key if case.staff_public_key is not None else case.public_key)


def require_role(identity: Identity, roles: frozenset[str]) -> None:
    """``Forbidden`` unless the staff member has one of ``roles`` (for pages that are not about one case)."""
    if identity.staff.role not in roles:
        raise Forbidden()


def _staff_grant(staff_id: int):
    return and_(Grant.case_id == Case.id, Grant.holder == "staff", Grant.staff_id == staff_id)


async def granted_case(session: AsyncSession, identity: Identity, reference: str, step: str) -> tuple[Case, CaseKeys]:
    """The case and its private keys, for a step this staff member may take on it now.

    In this order: the role must allow the step (``Forbidden``), the staff member
    must hold a grant (``NoSuchCase``), and the case's state must allow it (``WrongStatus``).
    A case filed before staff keys existed gets one now (``upgrade_case``).

    A step that changes the case first locks its row until the transaction ends, and only
    then reads the case and the grant: two staff acting on one case at once take turns, and
    the second decides on what the first left (a status moved on: 409; its grant revoked: 404),
    never on what both read before either wrote. (SQLite's one writer serialises them anyway.)
    """
    steps.check_role(identity.staff.role, step)
    if steps.STEPS[step].changes:
        await session.execute(select(Case.id).where(Case.reference == reference).with_for_update())
    row = (
        await session.execute(
            select(Case, Grant)
            .join(Grant, _staff_grant(identity.staff.id))
            .where(Case.reference == reference)
            .execution_options(populate_existing=True)
        )
    ).one_or_none()
    if row is None:
        raise NoSuchCase()
    case, grant = row
    # A grant left from an older database or an earlier role opens nothing that routing or a conflict forbids.
    if not routing_allows(case, identity.staff.role) or await is_implicated(session, case.id, identity.staff.id):
        raise NoSuchCase()
    steps.check_state(case, identity.staff.role, step)
    conversation = keys.open_grant(grant.sealed_key, identity.private_key)
    if case.staff_public_key is None:
        await upgrade_case(session, case, conversation)
        await session.refresh(grant)
    if grant.staff_sealed_key is None:  # a grant made outside grants.py: it opens nothing staff-only
        raise NoSuchCase()
    return case, CaseKeys(conversation, keys.open_grant(grant.staff_sealed_key, identity.private_key))


# The staff-only boxes: (model, its sealed columns). Everything else of a case is the conversation.
STAFF_ONLY = (
    (Finding, ("narrative_box", "root_cause_box")),
    (DisciplinaryOutcome, ("subject_box", "notes_box")),
    (ProtectedPerson, ("name_box",)),
    (RetaliationFlag, ("resolution_box",)),
    (RemediationAction, ("what_box", "owner_box", "evidence_box")),
    (Disclosure, ("recipient_box",)),
)
# The case row's own staff-only boxes, beside the identity.
CASE_STAFF_ONLY = ("plan_box", "referral_box")


async def upgrade_case(session: AsyncSession, case: Case, conversation: PrivateKey) -> None:
    """Give a case filed before staff keys existed its staff key pair, inside the caller's transaction.

    Until then everything of the case was sealed to the one key the reporter's receipt opens.
    The new staff key is sealed to every staff and recovery grant (never to the reporter's),
    and the staff-only boxes (identity, notes, finding, discipline, protected names, flag
    records) are re-sealed under it.
    """
    # Lock the case row and look again: of two holders opening it at once, one makes the key.
    await session.execute(select(Case).where(Case.id == case.id).with_for_update().execution_options(populate_existing=True))
    if case.staff_public_key is not None:
        return
    staff_key = keys.new_key_pair()
    public = staff_key.public_key
    recovery = (await session.scalars(select(Installation.recovery_public_key))).one()
    for grant in await session.scalars(select(Grant).where(Grant.case_id == case.id, Grant.holder != "reporter")):
        holder_key = recovery if grant.staff_id is None else (await session.get_one(Staff, grant.staff_id)).public_key
        grant.staff_sealed_key = keys.grant(staff_key, PublicKey(holder_key))

    def reseal(box: bytes) -> bytes:
        return boxes.seal(public, boxes.unseal(conversation, box))

    case.identity_box = seal_identity(public, boxes.unseal_json(conversation, case.identity_box))
    for column in CASE_STAFF_ONLY:
        if (box := getattr(case, column)) is not None:
            setattr(case, column, reseal(box))
    for note in await session.scalars(select(Message).where(Message.case_id == case.id, Message.sender == "note")):
        note.body_box = reseal(note.body_box)
    for model, columns in STAFF_ONLY:
        for row in await session.scalars(select(model).where(model.case_id == case.id)):
            for column in columns:
                if (box := getattr(row, column)) is not None:
                    setattr(row, column, reseal(box))
    case.staff_public_key = bytes(public)
    await session.flush()


async def holds(session: AsyncSession, identity: Identity, reference: str) -> bool:
    """Whether this staff member holds a grant for the case (after a recusal, say)."""
    found = await session.scalar(select(Grant.id).join(Case, _staff_grant(identity.staff.id)).where(Case.reference == reference))
    return found is not None
