"""Two keys per case: a receipt and a copy of the database open the conversation, never what only staff read.

Staff-only: the reporter's identity, internal notes, the finding, discipline
subjects and notes, protected persons' names and flag records. A case filed
before staff keys existed is given one the first time a holder opens it.
"""

from dataclasses import dataclass
from datetime import date

import pytest
from nacl.public import PrivateKey, PublicKey, SealedBox
from sqlalchemy import select

from cases.content import IDENTITY_FIELDS, IDENTITY_SIZE
from cases.filing import file_report, parse_report
from cases.models import Case, DisciplinaryOutcome, Finding, Grant, Message, ProtectedPerson, RetaliationFlag
from crypto import CryptoError, boxes, keys, receipts
from tests.conftest import Reporter
from tests.test_lifecycle import IN_SCOPE

NAME, CONTACT = "Robin Reporter", "robin@example.org"
SECRETS = {
    "note": "Internal: the agent is a cousin of the CFO",
    "narrative": "The payments were made through a shell company",
    "root_cause": "No second approval on agent fees",
    "subject": "Sam Subject",
    "discipline_notes": "Dismissed after the board hearing",
    "protected": "Pat Protected",
    "flag_record": "Demotion reversed and back pay paid",
}
CONVERSATION = {"report": "Cash to a customs inspector", "message": "I was moved to nights", "reply": "Who approved the payment?"}


async def _worked_case(client, browsers, installed) -> tuple[str, str]:
    """A confidential report with every kind of content, staff-only and not, added through the app."""
    reporter = Reporter(client)
    receipt = await reporter.file({"anonymity": "confidential", "name": NAME, "contact": CONTACT})
    officer = await browsers(installed.compliance_officer)
    async with installed.ctx.sessions() as session:
        reference = await session.scalar(select(Case.reference))
    for step, form in (("acknowledge", None), ("assess", IN_SCOPE), ("investigate", None)):
        assert (await officer.post(f"/staff/cases/{reference}/{step}", form)).status_code == 303
    assert (await officer.post(f"/staff/cases/{reference}/reply", {"body": CONVERSATION["reply"]})).status_code == 303
    assert (await officer.post(f"/staff/cases/{reference}/note", {"body": SECRETS["note"]})).status_code == 303
    protect = {"employee_id": "E-1001", "name": SECRETS["protected"], "role": "witness"}
    assert (await officer.post(f"/staff/cases/{reference}/protect", protect)).status_code == 303
    assert (await reporter.write(receipt, CONVERSATION["message"], retaliation=True)).status_code in (200, 303)
    resolve = {"step": "resolve", "resolution": "remedy", "record": SECRETS["flag_record"], "confirm": "yes"}
    assert (await officer.post(f"/staff/cases/{reference}/flags/1", resolve)).status_code == 303
    finding = {
        "outcome": "substantiated",
        "narrative": SECRETS["narrative"],
        "root_cause": "inadequate_controls",
        "root_cause_explanation": SECRETS["root_cause"],
    }
    assert (await officer.post(f"/staff/cases/{reference}/conclude", finding)).status_code == 303
    outcome = {
        "subject": SECRETS["subject"],
        "subject_role": "Sales director",
        "subject_type": "officer",
        "action": "termination_of_employment",
        "effective_on": "2026-10-01",
        "decided_by": "Board",
        "notes": SECRETS["discipline_notes"],
    }
    assert (await officer.post(f"/staff/cases/{reference}/discipline", outcome)).status_code == 303
    return receipt, reference


@dataclass
class Copy:
    """The rows of one case, read straight from the database."""

    case: Case
    grants: list[Grant]
    messages: list[Message]
    finding: Finding
    outcomes: list[DisciplinaryOutcome]
    protected: list[ProtectedPerson]
    flags: list[RetaliationFlag]

    def staff_only_boxes(self) -> dict[str, bytes]:
        found = {"identity": self.case.identity_box, "plan": self.case.plan_box}
        found |= {f"note {m.id}": m.body_box for m in self.messages if m.sender == "note"}
        found |= {"narrative": self.finding.narrative_box, "root_cause": self.finding.root_cause_box}
        for o in self.outcomes:
            found |= {f"subject {o.id}": o.subject_box, f"discipline notes {o.id}": o.notes_box}
        found |= {f"protected {p.id}": p.name_box for p in self.protected}
        found |= {f"flag {f.id}": f.resolution_box for f in self.flags if f.resolution_box is not None}
        return found


async def _copy(installed, reference: str) -> Copy:
    async with installed.ctx.sessions() as session:
        case = (await session.scalars(select(Case).where(Case.reference == reference))).one()

        async def rows(model):
            return list((await session.scalars(select(model).where(model.case_id == case.id).order_by(model.id))).all())

        return Copy(
            case,
            await rows(Grant),
            await rows(Message),
            (await rows(Finding))[0],
            await rows(DisciplinaryOutcome),
            await rows(ProtectedPerson),
            await rows(RetaliationFlag),
        )


async def _reporter_key(installed, receipt: str) -> PrivateKey:
    """What a receipt alone gives, with the database: the key its derivation opens the reporter's grant with."""
    installation = await installed.ctx.installation()
    derived = await installed.ctx.kdf.receipt(receipts.normalise(receipt), installation.receipt_salt)
    async with installed.ctx.sessions() as session:
        grant = await session.scalar(
            select(Grant).join(Case).where(Case.receipt_lookup == derived.lookup_id, Grant.holder == "reporter")
        )
    assert grant is not None and grant.staff_sealed_key is None
    return keys.open_grant(grant.sealed_key, derived.private_key)


def _opens(key: PrivateKey, box: bytes) -> bool:
    try:
        boxes.unseal(key, box)
    except CryptoError:
        return False
    return True


def _assert_reporter_opens_only_the_conversation(copy: Copy, reporter_key: PrivateKey) -> None:
    assert boxes.unseal_json(reporter_key, copy.case.report_box)["summary"] == CONVERSATION["report"]
    thread = {m.sender: boxes.unseal(reporter_key, m.body_box).decode() for m in copy.messages if m.sender != "note"}
    assert thread["reporter"] == CONVERSATION["message"] and thread["staff"] == CONVERSATION["reply"]
    staff_only = copy.staff_only_boxes()
    assert {"identity", "plan", "narrative", "root_cause"} <= set(staff_only) and len(staff_only) == 9
    assert [label for label, box in staff_only.items() if _opens(reporter_key, box)] == []
    # Nor does it open the staff key from any grant.
    for grant in copy.grants:
        if grant.staff_sealed_key is not None:
            with pytest.raises(CryptoError):
                keys.open_grant(grant.staff_sealed_key, reporter_key)


async def _assert_staff_read_everything(browsers, installed, reference: str) -> None:
    officer = await browsers(installed.compliance_officer)
    page = (await officer.get(f"/staff/cases/{reference}")).text
    for text in [*SECRETS.values(), *CONVERSATION.values()]:
        assert text in page, text
    revealed = await officer.post(f"/staff/cases/{reference}/reveal", {"reason": "arrange an interview"})
    shown = (await officer.get(revealed.headers["location"])).text
    assert NAME in shown and CONTACT in shown


async def test_a_receipt_and_a_database_copy_open_the_conversation_and_nothing_staff_only(client, browsers, installed):
    receipt, reference = await _worked_case(client, browsers, installed)
    copy = await _copy(installed, reference)
    assert copy.case.staff_public_key is not None and copy.case.staff_public_key != copy.case.public_key
    _assert_reporter_opens_only_the_conversation(copy, await _reporter_key(installed, receipt))
    await _assert_staff_read_everything(browsers, installed, reference)
    # The recovery key holds both keys.
    [recovery] = [g for g in copy.grants if g.holder == "recovery"]
    staff_key = keys.open_grant(recovery.staff_sealed_key, installed.recovery_key)
    assert boxes.unseal_json(staff_key, copy.case.identity_box) == {"name": NAME, "contact": CONTACT}


def _legacy_box(public_key: bytes, plaintext: bytes) -> bytes:
    """Sealed the old way: to the one case key, without a version byte."""
    return SealedBox(PublicKey(public_key)).encrypt(boxes.pad(plaintext))


async def _make_it_old(installed, reference: str) -> None:
    """Turn a case into one filed before staff keys: everything sealed to the one (conversation) key."""
    async with installed.ctx.sessions() as session, session.begin():
        case = (await session.scalars(select(Case).where(Case.reference == reference))).one()
        recovery = (await session.scalars(select(Grant).where(Grant.case_id == case.id, Grant.holder == "recovery"))).one()
        staff_key = keys.open_grant(recovery.staff_sealed_key, installed.recovery_key)

        def old(box: bytes) -> bytes:
            return _legacy_box(case.public_key, boxes.unseal(staff_key, box))

        case.identity_box = old(case.identity_box)
        case.plan_box = old(case.plan_box)
        for note in await session.scalars(select(Message).where(Message.case_id == case.id, Message.sender == "note")):
            note.body_box = old(note.body_box)
        for model, columns in (
            (Finding, ("narrative_box", "root_cause_box")),
            (DisciplinaryOutcome, ("subject_box", "notes_box")),
            (ProtectedPerson, ("name_box",)),
            (RetaliationFlag, ("resolution_box",)),
        ):
            for row in await session.scalars(select(model).where(model.case_id == case.id)):
                for column in columns:
                    if getattr(row, column) is not None:
                        setattr(row, column, old(getattr(row, column)))
        for grant in await session.scalars(select(Grant).where(Grant.case_id == case.id)):
            grant.staff_sealed_key = None
        case.staff_public_key = None


async def test_an_old_case_gets_a_staff_key_when_a_holder_opens_it(client, browsers, installed):
    receipt, reference = await _worked_case(client, browsers, installed)
    await _make_it_old(installed, reference)
    reporter_key = await _reporter_key(installed, receipt)
    before = await _copy(installed, reference)
    assert before.case.staff_public_key is None
    assert all(_opens(reporter_key, box) for box in before.staff_only_boxes().values())  # what an old copy exposes

    officer = await browsers(installed.compliance_officer)
    assert (await officer.get(f"/staff/cases/{reference}")).status_code == 200

    after = await _copy(installed, reference)
    assert after.case.staff_public_key is not None
    assert {g.holder for g in after.grants if g.staff_sealed_key is not None} == {"staff", "recovery"}
    assert [g.staff_sealed_key for g in after.grants if g.holder == "reporter"] == [None]
    _assert_reporter_opens_only_the_conversation(after, reporter_key)
    await _assert_staff_read_everything(browsers, installed, reference)
    # The recovery key opens the new staff key, and the identity box is padded like a new one.
    [recovery] = [g for g in after.grants if g.holder == "recovery"]
    staff_key = keys.open_grant(recovery.staff_sealed_key, installed.recovery_key)
    assert all(_opens(staff_key, box) for box in after.staff_only_boxes().values())
    assert len(after.case.identity_box) == len(boxes.seal(staff_key.public_key, b"", size=IDENTITY_SIZE))
    # Opening it again changes nothing.
    assert (await officer.get(f"/staff/cases/{reference}")).status_code == 200
    assert (await _copy(installed, reference)).case.staff_public_key == after.case.staff_public_key


async def test_an_old_case_is_upgraded_by_any_step_of_a_holder_and_new_content_goes_to_the_staff_key(client, browsers, installed):
    receipt, reference = await _worked_case(client, browsers, installed)
    await _make_it_old(installed, reference)
    officer = await browsers(installed.compliance_officer)
    assert (await officer.post(f"/staff/cases/{reference}/note", {"body": "written on the old case"})).status_code == 303
    copy = await _copy(installed, reference)
    assert copy.case.staff_public_key is not None
    reporter_key = await _reporter_key(installed, receipt)
    assert not any(_opens(reporter_key, m.body_box) for m in copy.messages if m.sender == "note")
    assert "written on the old case" in (await officer.get(f"/staff/cases/{reference}")).text


@pytest.mark.backend_agnostic
async def test_an_anonymous_and_the_largest_identity_seal_to_the_same_size(installed):
    ctx = installed.ctx
    report = {"category": "other", "summary": "s", "details": "d"}
    identities = [
        None,
        {"name": "名" * IDENTITY_FIELDS["name"], "contact": "連" * IDENTITY_FIELDS["contact"]},  # 3 bytes a character
        {"name": "😀" * IDENTITY_FIELDS["name"], "contact": "😀" * IDENTITY_FIELDS["contact"]},  # 4
        {"name": "\x01" * IDENTITY_FIELDS["name"], "contact": "\x02" * IDENTITY_FIELDS["contact"]},  # 6, escaped
        {"name": "A", "contact": ""},
    ]
    for identity in identities:
        async with ctx.sessions() as session:
            await file_report(session, ctx, parse_report({**report, "identity": identity}), [], date(2026, 11, 25))
    async with ctx.sessions() as session:
        sizes = {len(box) for box in await session.scalars(select(Case.identity_box))}
    assert len(sizes) == 1
