"""The Audit Committee's oversight holds against everyone below it (issue 10, part 1).

Each test is the attack it prevents, through the staff site, on both databases:
a Compliance Officer handing the Committee's cases to themself, implicating a
Committee member, concluding an escalated case; an administrator moving a
Committee member into a role that may not read what they hold, or disabling
the last member; a grant left behind that routing or a conflict forbids; a
case that nobody active can read any more.
"""

from datetime import timedelta

from nacl.public import PublicKey
from sqlalchemy import delete, select

from cases.accounts import create_staff
from cases.models import Case, Grant, Implicated, Staff
from cases.outbox import send_due
from cases.recovery import regrant_unheld
from crypto import keys
from tests.conftest import STAFF_PASSWORD, Reporter, case_for, close_the_day
from tests.test_committee import holders, references
from tests.test_lifecycle import CLOSE_INVESTIGATED, IN_SCOPE


async def staff_member(installed, email: str, role: str) -> Staff:
    async with installed.ctx.sessions() as session:
        return await create_staff(session, installed.ctx, email=email, role=role, password=STAFF_PASSWORD)


async def test_a_compliance_officer_cannot_hand_the_committees_cases_to_themself(client, browsers, installed):
    await Reporter(client).file({"category": "books_records", "summary": "Invoices backdated"})
    [reference] = await references(installed)
    member = installed.audit_committee
    assert member.id in await holders(installed, reference)
    officer = await browsers(installed.compliance_officer)
    response = await officer.post(
        "/staff/team", {"leaver": member.id, "successor": installed.compliance_officer.id, "confirm": "yes"}
    )
    assert response.status_code == 403
    assert member.id in await holders(installed, reference)


async def test_hand_over_names_only_cases_the_actor_holds(client, browsers, installed):
    receipts = [
        await Reporter(client).file({"summary": "The CFO takes kickbacks", "concerns_leadership": "yes"}),
        await Reporter(client).file({"summary": "An ordinary report"}),
    ]
    leadership, ordinary = [(await case_for(installed.ctx, receipt)).reference for receipt in receipts]
    investigator = installed.investigator
    committee = await browsers(installed.audit_committee)
    assert (await committee.post(f"/staff/cases/{leadership}/assign", {"assignee": investigator.id})).status_code == 303
    officer = await browsers(installed.compliance_officer)
    assert (await officer.post(f"/staff/cases/{ordinary}/assign", {"assignee": investigator.id})).status_code == 303
    successor = await staff_member(installed, "successor@example.test", "investigator")
    moved = await officer.post("/staff/team", {"leaver": investigator.id, "successor": successor.id, "confirm": "yes"})
    assert moved.status_code == 303  # post/redirect/get: the team page says what moved
    page = await officer.get(moved.headers["location"])
    assert ordinary in page.text and leadership not in page.text
    assert investigator.id in await holders(installed, leadership)  # the Committee's case is untouched
    assert successor.id in await holders(installed, ordinary) and investigator.id not in await holders(installed, ordinary)


async def test_only_another_committee_member_can_name_a_member_as_implicated(client, browsers, installed):
    second = await staff_member(installed, "member2@example.test", "audit_committee")
    await Reporter(client).file({"category": "internal_controls", "summary": "Approvals skipped"})
    [reference] = await references(installed)
    member = installed.audit_committee
    officer = await browsers(installed.compliance_officer)
    assert (await officer.post(f"/staff/cases/{reference}/implicate", {"staff": member.id})).status_code == 403
    assert member.id in await holders(installed, reference)
    peer = await browsers(second)
    assert (await peer.post(f"/staff/cases/{reference}/implicate", {"staff": member.id})).status_code == 303
    assert member.id not in await holders(installed, reference)
    override = {"staff": member.id, "reason": "the conflict was ruled out by counsel"}
    assert (await peer.post(f"/staff/cases/{reference}/override", override)).status_code == 303
    implicated = await browsers(member)
    assert (await implicated.get(f"/staff/cases/{reference}")).status_code == 200  # the override stands


async def test_once_escalated_only_the_committee_concludes_and_closes(client, browsers, installed):
    await Reporter(client).file({"summary": "Escalate me"})
    [reference] = await references(installed)
    officer = await browsers(installed.compliance_officer)
    for step, form in (("acknowledge", None), ("assess", IN_SCOPE), ("investigate", None)):
        assert (await officer.post(f"/staff/cases/{reference}/{step}", form)).status_code == 303
    escalation = {"reason": "concerns a board member's friend"}
    assert (await officer.post(f"/staff/cases/{reference}/escalate", escalation)).status_code == 303
    finding = {"outcome": "unsubstantiated", "narrative": "Nothing found."}
    assert (await officer.post(f"/staff/cases/{reference}/conclude", finding)).status_code == 409
    assert "Record finding and conclude" not in (await officer.get(f"/staff/cases/{reference}")).text
    committee = await browsers(installed.audit_committee)
    assert (await committee.post(f"/staff/cases/{reference}/conclude", finding)).status_code == 303
    assert (await officer.post(f"/staff/cases/{reference}/close", CLOSE_INVESTIGATED)).status_code == 409
    assert (await committee.post(f"/staff/cases/{reference}/close", CLOSE_INVESTIGATED)).status_code == 303


async def test_a_returned_case_is_the_compliance_officers_again(client, browsers, installed):
    await Reporter(client).file({"summary": "Escalate and return"})
    [reference] = await references(installed)
    officer = await browsers(installed.compliance_officer)
    for step, form in (("acknowledge", None), ("assess", IN_SCOPE), ("investigate", None)):
        await officer.post(f"/staff/cases/{reference}/{step}", form)
    await officer.post(f"/staff/cases/{reference}/escalate", {"reason": "a second opinion"})
    committee = await browsers(installed.audit_committee)
    instructions = {"instructions": "Interview the agent first."}
    assert (await committee.post(f"/staff/cases/{reference}/return", instructions)).status_code == 303
    finding = {"outcome": "unsubstantiated", "narrative": "Nothing found."}
    assert (await officer.post(f"/staff/cases/{reference}/conclude", finding)).status_code == 303
    assert (await officer.post(f"/staff/cases/{reference}/close", CLOSE_INVESTIGATED)).status_code == 303


async def test_a_role_change_gives_up_what_the_new_role_may_not_hold_and_says_so(client, browsers, installed):
    moved = await staff_member(installed, "member2@example.test", "audit_committee")
    admin = await staff_member(installed, "admin@example.test", "admin")
    await Reporter(client).file({"summary": "The CFO takes kickbacks", "concerns_leadership": "yes"})
    [leadership] = await references(installed)
    assert moved.id in await holders(installed, leadership)
    administrator = await browsers(admin)
    changed = await administrator.post(f"/staff/admin/staff/{moved.id}", {"change": "role", "role": "compliance_officer"})
    assert changed.status_code == 303  # post/redirect/get: the accounts page says it
    assert "gave up 1 case grant" in (await administrator.get(changed.headers["location"])).text
    assert moved.id not in await holders(installed, leadership)
    now_officer = await browsers(moved)
    assert (await now_officer.get(f"/staff/cases/{leadership}")).status_code == 404
    assert leadership not in (await now_officer.get("/staff/")).text


async def test_a_grant_that_routing_forbids_opens_nothing(client, browsers, installed):
    """A grant left from an older database: routing is checked on every read, not only when a grant is made."""
    await Reporter(client).file({"summary": "The CFO takes kickbacks", "concerns_leadership": "yes"})
    [leadership] = await references(installed)
    officer = installed.compliance_officer
    async with installed.ctx.sessions() as session, session.begin():
        case = (await session.scalars(select(Case).where(Case.reference == leadership))).one()
        recovery = (await session.scalars(select(Grant).where(Grant.case_id == case.id, Grant.holder == "recovery"))).one()
        case_key = keys.open_grant(recovery.sealed_key, installed.recovery_key)
        session.add(
            Grant(
                case_id=case.id,
                holder="staff",
                staff_id=officer.id,
                sealed_key=keys.grant(case_key, PublicKey(officer.public_key)),
            )
        )
    browser = await browsers(officer)
    assert (await browser.get(f"/staff/cases/{leadership}")).status_code == 404
    assert (await browser.post(f"/staff/cases/{leadership}/note", {"body": "mine now"})).status_code == 404
    listing = (await browser.get("/staff/")).text
    assert leadership not in listing and '<span class="count">0</span>' in listing


async def test_an_implicated_member_sees_nothing_of_the_case(client, browsers, installed, smtp):
    second = await staff_member(installed, "member2@example.test", "audit_committee")
    reporter = Reporter(client)
    receipt = await reporter.file({"category": "books_records", "summary": "Invoices backdated"})
    [reference] = await references(installed)
    member = installed.audit_committee
    peer = await browsers(second)
    assert (await peer.post(f"/staff/cases/{reference}/implicate", {"staff": member.id})).status_code == 303
    smtp.messages.clear()
    await reporter.write(receipt, "My manager moved me to the night shift.", retaliation=True)
    await close_the_day(installed.ctx)
    implicated = await browsers(member)
    assert reference not in (await implicated.get("/staff/flags?all=1")).text
    assert reference not in (await implicated.get("/staff/audit")).text
    assert reference not in (await implicated.get("/staff/?queue=committee")).text
    flags = (await peer.get("/staff/flags")).text
    assert reference in flags
    assert f'action="/staff/cases/{reference}/flags/1"' in flags
    assert (await implicated.post(f"/staff/cases/{reference}/flags/1", {"step": "review"})).status_code == 404
    await send_due(installed.ctx, installed.ctx.now() + timedelta(hours=31))
    alert = "Speakup: someone may be facing retaliation"
    assert [m for m in smtp.to(second.email) if m["Subject"] == alert]
    assert not [m for m in smtp.to(member.email) if m["Subject"] == alert]


async def test_the_last_active_committee_member_cannot_be_disabled_or_moved(browsers, installed):
    admin = await staff_member(installed, "admin@example.test", "admin")
    administrator = await browsers(admin)
    member = installed.audit_committee
    disabled = await administrator.post(f"/staff/admin/staff/{member.id}", {"change": "disable", "confirm": "yes"})
    assert disabled.status_code == 422 and "last active audit committee" in disabled.text
    demoted = await administrator.post(f"/staff/admin/staff/{member.id}", {"change": "role", "role": "investigator"})
    assert demoted.status_code == 422
    async with installed.ctx.sessions() as session:
        assert (await session.get(Staff, member.id)).active


async def test_an_account_whose_cases_nobody_else_reads_cannot_be_disabled(client, browsers, installed):
    admin = await staff_member(installed, "admin@example.test", "admin")
    await Reporter(client).file({"summary": "Only one reader"})
    [reference] = await references(installed)
    assert await holders(installed, reference) == {installed.compliance_officer.id}
    await staff_member(installed, "officer2@example.test", "compliance_officer")  # joins after: holds nothing
    administrator = await browsers(admin)
    response = await administrator.post(
        f"/staff/admin/staff/{installed.compliance_officer.id}", {"change": "disable", "confirm": "yes"}
    )
    assert response.status_code == 422 and "no active reader" in response.text


async def test_a_case_nobody_can_read_raises_an_alarm_and_the_recovery_key_grants_it_again(client, browsers, installed):
    admin = await staff_member(installed, "admin@example.test", "admin")
    await Reporter(client).file({"summary": "Orphaned by an old database"})
    [reference] = await references(installed)
    async with installed.ctx.sessions() as session, session.begin():
        case_id = (await session.scalars(select(Case.id).where(Case.reference == reference))).one()
        await session.execute(delete(Grant).where(Grant.case_id == case_id, Grant.holder == "staff"))
    committee = await browsers(installed.audit_committee)
    assert f"No active staff member can read 1 case(s):</strong>\n  {reference}" in (await committee.get("/staff/")).text
    administrator = await browsers(admin)
    assert "No active staff member can read 1 case(s)." in (await administrator.get("/staff/admin")).text
    async with installed.ctx.sessions() as session:
        assert await regrant_unheld(session, installed.ctx, installed.recovery_key) == [reference]
    assert await holders(installed, reference) == {installed.compliance_officer.id}
    assert "No active staff member can read" not in (await committee.get("/staff/")).text
    officer = await browsers(installed.compliance_officer)
    assert "Orphaned by an old database" in (await officer.get(f"/staff/cases/{reference}")).text


async def test_the_alarm_never_names_a_case_to_a_member_it_implicates(client, browsers, installed):
    await Reporter(client).file({"summary": "Orphaned, and about a committee member"})
    [reference] = await references(installed)
    async with installed.ctx.sessions() as session, session.begin():
        case_id = (await session.scalars(select(Case.id).where(Case.reference == reference))).one()
        await session.execute(delete(Grant).where(Grant.case_id == case_id, Grant.holder == "staff"))
        session.add(
            Implicated(
                case_id=case_id,
                staff_id=installed.audit_committee.id,
                named_by=installed.compliance_officer.id,
                named_on=installed.ctx.today(),
            )
        )
    page = (await (await browsers(installed.audit_committee)).get("/staff/")).text
    assert reference not in page and "No active staff member can read" not in page
