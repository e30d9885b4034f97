"""Remediation of a concluded case: actions added, moved on to verified, overdue, listed and reminded."""

import asyncio
from datetime import timedelta

import pytest
from nacl.public import PublicKey
from sqlalchemy import select

from cases.models import Base, Case, Grant, RemediationAction
from cases.notifications import reminders
from cases.outbox import send_due
from crypto import keys
from tests.conftest import Reporter, StaffBrowser, case_for, new_app
from tests.test_lifecycle import IN_SCOPE

SEE_OTHER = 303
FINDING = {
    "outcome": "substantiated",
    "narrative": "The agent's fees paid the inspector.",
    "root_cause": "inadequate_controls",
    "root_cause_explanation": "Agent fees needed one signature.",
}


async def under_investigation(client, manager: StaffBrowser, installed, **fields) -> str:
    """A new case, acknowledged, assessed as in scope and under investigation: its reference."""
    reference = (await case_for(installed.ctx, await Reporter(client).file(fields or None))).reference
    for step, form in (("acknowledge", None), ("assess", IN_SCOPE), ("investigate", None)):
        assert (await manager.post(f"/staff/cases/{reference}/{step}", form)).status_code == SEE_OTHER, step
    return reference


async def concluded(client, manager: StaffBrowser, installed, **fields) -> str:
    reference = await under_investigation(client, manager, installed, **fields)
    assert (await manager.post(f"/staff/cases/{reference}/conclude", FINDING)).status_code == SEE_OTHER
    return reference


def action(what: str, owner: str, due) -> dict:
    return {"what": what, "owner": owner, "due_on": due.isoformat()}


async def actions(installed, reference: str) -> list[RemediationAction]:
    async with installed.ctx.sessions() as session:
        return list(
            (
                await session.scalars(
                    select(RemediationAction)
                    .join(Case, Case.id == RemediationAction.case_id)
                    .where(Case.reference == reference)
                    .order_by(RemediationAction.number)
                )
            ).all()
        )


async def test_an_action_goes_from_open_to_verified_with_its_evidence(client, browsers, installed, clock):
    officer = await browsers(installed.compliance_officer)
    reference = await concluded(client, officer, installed)
    today = clock().date()
    added = await officer.post(
        f"/staff/cases/{reference}/remediate", action("Require two signatures on agent fees", "Finance EMEA", today)
    )
    assert added.status_code == SEE_OTHER and added.headers["location"].endswith("?done=remediate")
    page = (await officer.get(f"/staff/cases/{reference}")).text
    assert "Require two signatures on agent fees" in page and "Finance EMEA" in page and "Open" in page

    update_path = f"/staff/cases/{reference}/update-remediation"
    for status in ("in_progress", "done", "in_progress", "done"):  # back from done while not verified
        assert (await officer.post(update_path, {"number": "1", "status": status})).status_code == SEE_OTHER
    unproven = await officer.post(update_path, {"number": "1", "status": "verified"})
    assert unproven.status_code == 422 and "evidence note" in unproven.text
    assert (await actions(installed, reference))[0].status == "done"
    verified = await officer.post(
        update_path, {"number": "1", "status": "verified", "evidence": "Audit sample of 40 payments, all signed twice."}
    )
    assert verified.status_code == SEE_OTHER
    page = (await officer.get(f"/staff/cases/{reference}")).text
    assert "Verified" in page and "Audit sample of 40 payments" in page
    final = await officer.post(update_path, {"number": "1", "status": "in_progress"})
    assert final.status_code == 409 and "verified action is final" in final.text
    assert (await officer.post(update_path, {"number": "9", "status": "done"})).status_code == 404


async def test_an_action_needs_what_who_and_a_due_date_not_in_the_past(client, browsers, installed, clock):
    officer = await browsers(installed.compliance_officer)
    reference = await concluded(client, officer, installed)
    path = f"/staff/cases/{reference}/remediate"
    past = await officer.post(path, action("Train the sales team", "HR", clock().date() - timedelta(days=1)))
    assert past.status_code == 422 and "cannot be in the past" in past.text
    empty = await officer.post(path, {"what": " ", "owner": "", "due_on": "next week"})
    assert empty.status_code == 422 and "YYYY-MM-DD" in empty.text and "Say what is to be done" in empty.text
    assert await actions(installed, reference) == []


async def test_remediation_waits_for_a_concluded_investigation(client, browsers, installed, clock):
    officer = await browsers(installed.compliance_officer)
    reference = await under_investigation(client, officer, installed)
    refused = await officer.post(f"/staff/cases/{reference}/remediate", action("Anything", "Anyone", clock().date()))
    assert refused.status_code == 409 and "concluded investigation" in refused.text


async def test_an_overdue_action_is_marked_listed_first_and_reminded_once(client, browsers, installed, clock, smtp):
    officer = await browsers(installed.compliance_officer)
    reference = await concluded(client, officer, installed)
    today = clock().date()
    path = f"/staff/cases/{reference}/remediate"
    assert (
        await officer.post(path, action("Renegotiate the agency contract", "Legal", today + timedelta(days=10)))
    ).status_code == 303
    assert (await officer.post(path, action("Retrain the customs team", "HR", today + timedelta(days=3)))).status_code == 303
    assert (await officer.post(path, action("Stop paying the agent", "Finance", today + timedelta(days=3)))).status_code == 303
    done = {"number": "3", "status": "done"}
    assert (await officer.post(f"/staff/cases/{reference}/update-remediation", done)).status_code == 303

    clock.advance(days=5)
    officer = await browsers(installed.compliance_officer)  # a new day, a new login
    listing = (await officer.get("/staff/remediation")).text
    assert listing.index("Retrain the customs team") < listing.index("Renegotiate the agency contract")
    assert listing.count("<strong>overdue</strong>") == 1  # the done one is not overdue
    overdue_only = (await officer.get("/staff/remediation?overdue=1")).text
    assert "Retrain the customs team" in overdue_only and "Renegotiate" not in overdue_only and "Stop paying" not in overdue_only
    assert "Stop paying the agent" in (await officer.get("/staff/remediation?status=done")).text
    assert "Retrain" not in (await officer.get("/staff/remediation?status=verified")).text
    assert "<strong>overdue</strong>" in (await officer.get(f"/staff/cases/{reference}")).text

    ctx = installed.ctx
    for _ in range(2):  # the scheduler runs often; one mail per overdue action
        async with ctx.sessions() as session, session.begin():
            await reminders(session, ctx.settings, clock().date(), clock())
    await send_due(ctx, clock())
    subject = "Speakup: a remediation action is overdue"
    mails = [m for m in smtp.to(installed.compliance_officer.email) if m["Subject"] == subject]
    assert len(mails) == 1
    body = mails[0].get_content()
    for content in ("Retrain", "customs", "HR", reference):  # no case content (nor, by default, the reference)
        assert content not in body
    assert not [m for m in smtp.to(installed.audit_committee.email) if m["Subject"] == subject]  # holds no grant

    clock.advance(days=1)  # still overdue the next day: no second mail (the remediation page keeps showing it)
    async with ctx.sessions() as session, session.begin():
        await reminders(session, ctx.settings, clock().date(), clock())
    await send_due(ctx, clock())
    assert sum(m["Subject"] == subject for m in smtp.to(installed.compliance_officer.email)) == 1


async def test_an_investigator_can_neither_add_nor_update_nor_list(client, browsers, installed, clock):
    officer = await browsers(installed.compliance_officer)
    reference = await concluded(client, officer, installed)
    assign = {"assignee": installed.investigator.id}
    assert (await officer.post(f"/staff/cases/{reference}/assign", assign)).status_code == SEE_OTHER
    assert (await officer.post(f"/staff/cases/{reference}/remediate", action("Fix", "Legal", clock().date()))).status_code == 303
    investigator = await browsers(installed.investigator)
    assert "Fix" in (await investigator.get(f"/staff/cases/{reference}")).text  # a holder reads the case
    added = await investigator.post(f"/staff/cases/{reference}/remediate", action("Mine", "Me", clock().date()))
    assert added.status_code == 403
    updated = await investigator.post(f"/staff/cases/{reference}/update-remediation", {"number": "1", "status": "done"})
    assert updated.status_code == 403
    assert (await investigator.get("/staff/remediation")).status_code == 403
    assert [a.status for a in await actions(installed, reference)] == ["open"]


async def test_a_committee_only_case_is_not_on_the_compliance_officers_page_even_with_a_stray_grant(
    client, browsers, installed, clock
):
    member = await browsers(installed.audit_committee)
    leadership = await concluded(client, member, installed, summary="The CFO takes kickbacks", concerns_leadership="yes")
    what = "Replace the signing authority of the CFO"
    assert (await member.post(f"/staff/cases/{leadership}/remediate", action(what, "Board", clock().date()))).status_code == 303
    assert what in (await member.get("/staff/remediation")).text
    # A grant left from an older database: routing still hides the case (as on the case list).
    officer = installed.compliance_officer
    async with installed.ctx.sessions() as session, session.begin():
        case = await session.scalar(select(Case).where(Case.reference == leadership))
        recovery = await session.scalar(select(Grant).where(Grant.case_id == case.id, Grant.holder == "recovery"))
        case_key = keys.open_grant(recovery.sealed_key, installed.recovery_key)
        session.add(
            Grant(
                case_id=case.id,
                holder="staff",
                staff_id=officer.id,
                sealed_key=keys.grant(case_key, PublicKey(officer.public_key)),
            )
        )
    page = (await (await browsers(officer)).get("/staff/remediation")).text
    assert leadership not in page and what not in page and "No remediation actions" in page


async def test_what_owner_and_evidence_are_sealed_in_the_database(client, browsers, installed, clock):
    officer = await browsers(installed.compliance_officer)
    reference = await concluded(client, officer, installed)
    canaries = {"what": "CanaryWhat5d2a", "owner": "CanaryOwner9b1e", "evidence": "CanaryEvidence0c7f"}
    form = action(canaries["what"], canaries["owner"], clock().date())
    assert (await officer.post(f"/staff/cases/{reference}/remediate", form)).status_code == 303
    verify = {"number": "1", "status": "verified", "evidence": canaries["evidence"]}
    assert (await officer.post(f"/staff/cases/{reference}/update-remediation", verify)).status_code == 303
    page = (await officer.get(f"/staff/cases/{reference}")).text
    assert all(value in page for value in canaries.values())  # really stored, and readable with the grant
    await assert_nowhere_in_plain(installed.ctx, canaries.values())


async def assert_nowhere_in_plain(ctx, canaries) -> None:
    """No canary in any column of any table, read back through the database itself (both backends)."""
    found = []
    async with ctx.sessions() as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).all():
                for value in row:
                    raw = value if isinstance(value, bytes) else str(value).encode()
                    found += [(table.name, c) for c in canaries if c.encode() in raw or c.encode("utf-16-le") in raw]
    assert not found, found


@pytest.fixture
async def second_app(settings, app, clock):
    """Another worker of the same installation: its own app, engine and pool; the same clock."""
    other = new_app(settings)
    other.state.ctx.clock = clock
    async with other.router.lifespan_context(other):
        yield other


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite has one writer anyway
async def test_two_managers_adding_actions_at_once_get_numbers_one_and_two(client, browsers, installed, clock, second_app):
    officer = await browsers(installed.compliance_officer)
    twin = StaffBrowser(second_app, clock, installed.compliance_officer.email)
    try:
        assert (await twin.login()).status_code == SEE_OTHER
        today = clock().date()
        for _ in range(3):
            reference = await concluded(client, officer, installed)
            path = f"/staff/cases/{reference}/remediate"
            answers = await asyncio.gather(
                officer.post(path, action("First fix", "Legal", today)), twin.post(path, action("Second fix", "HR", today))
            )
            assert [a.status_code for a in answers] == [SEE_OTHER, SEE_OTHER]
            assert [a.number for a in await actions(installed, reference)] == [1, 2]
    finally:
        await twin.aclose()
