"""The staff's side of a case: summaries in the list, the timeline, what each step says it did,
confirmation of what cannot be undone, and a reveal that a reload does not repeat."""

import re
from datetime import timedelta

import pytest
from nacl.public import PublicKey
from sqlalchemy import func, select

from cases import done
from cases.casefile import REVEAL_WINDOW
from cases.caselist import Filters, list_cases, with_summaries
from cases.models import AuditEntry, Case, Grant, Implicated, RetaliationFlag, Staff
from cases.steps import FLAG_STEPS
from cases.timeline import LABELS, NOT_SHOWN
from cases.vocabulary import MINUTES_ANSWERS
from crypto import keys
from staff.case_pages import ACTIONS
from tests.conftest import ROOT, STAFF_PASSWORD, Reporter, case_for, close_the_day, identity_of

LEADERSHIP = {"summary": "The CFO takes kickbacks", "concerns_leadership": "yes"}
CONFIDENTIAL = {"summary": "Cash to an inspector", "anonymity": "confidential", "name": "Ana Example", "contact": "+1 555 0100"}


async def reveals(installed) -> int:
    async with installed.ctx.sessions() as session:
        return await session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "identity.revealed"))


async def new_staff(installed, email: str, role: str) -> Staff:
    from cases.accounts import create_staff

    async with installed.ctx.sessions() as session:
        return await create_staff(session, installed.ctx, email=email, role=role, password=STAFF_PASSWORD)


async def summaries(installed, identity, rows) -> list[str]:
    async with installed.ctx.sessions() as session:
        return [row.summary for row in await with_summaries(session, identity, rows, installed.ctx.now())]


def timeline_of(page: str) -> str:
    return page[page.index('id="timeline-heading"') :].split("</section>")[0]


def no_duplicate_ids(page: str) -> None:
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


# The case list


async def test_the_list_shows_each_summary_to_the_cases_readers_only(client, browsers, installed):
    reporter = Reporter(client)
    ordinary = (await case_for(installed.ctx, await reporter.file({"summary": "Cash to a customs inspector"}))).reference
    leadership = (await case_for(installed.ctx, await reporter.file(LEADERSHIP))).reference
    officer = await browsers(installed.compliance_officer)
    listing = (await officer.get("/staff/")).text
    assert "Cash to a customs inspector" in listing
    assert leadership not in listing and "The CFO takes kickbacks" not in listing
    committee = (await (await browsers(installed.audit_committee)).get("/staff/")).text
    assert "The CFO takes kickbacks" in committee and leadership in committee
    # Opening them is logged, one entry per case read (so the log's exclusion rules apply), never their words.
    officer_read = (
        select(Case.reference)
        .join(AuditEntry, AuditEntry.case_id == Case.id)
        .where(AuditEntry.action == "summary.read", AuditEntry.actor_id == installed.compliance_officer.id)
    )
    async with installed.ctx.sessions() as session:
        assert set((await session.scalars(officer_read)).all()) == {ordinary}
        logged = (await session.scalars(select(AuditEntry.detail).where(AuditEntry.action == "summary.read"))).all()
    assert logged and not [detail for detail in logged if detail]
    # On a shared screen: the list without summaries, nothing decrypted, nothing logged.
    bare = (await officer.get("/staff/?summaries=0")).text
    assert ordinary in bare and "Cash to a customs inspector" not in bare
    async with installed.ctx.sessions() as session:
        count = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "summary.read")
        assert await session.scalar(count) == len(logged)


async def test_a_left_over_grant_opens_no_summary_of_a_case_hidden_from_its_holder(client, browsers, installed):
    """Routing (a Compliance Officer and a leadership report) and a conflict of interest (an implicated
    member whose grant is still there) hide a case: no row, and no summary even if the row were asked for."""
    await new_staff(installed, "member2@example.test", "audit_committee")  # still reads it: no unheld alarm
    reporter = Reporter(client)
    leadership = await case_for(installed.ctx, await reporter.file(LEADERSHIP))
    officer, member = installed.compliance_officer, installed.audit_committee
    async with installed.ctx.sessions() as session, session.begin():
        recovery = (await session.scalars(select(Grant).where(Grant.case_id == leadership.id, Grant.holder == "recovery"))).one()
        case_key = keys.open_grant(recovery.sealed_key, installed.recovery_key)
        session.add(
            Grant(
                case_id=leadership.id,
                holder="staff",
                staff_id=officer.id,
                sealed_key=keys.grant(case_key, PublicKey(officer.public_key)),
            )
        )
    member_view = await identity_of(installed, member)
    async with installed.ctx.sessions() as session:
        rows = (await list_cases(session, member_view, Filters(), installed.ctx.today())).rows
    assert await summaries(installed, member_view, rows) == ["The CFO takes kickbacks"]
    officer_view = await identity_of(installed, officer)
    async with installed.ctx.sessions() as session:
        assert (await list_cases(session, officer_view, Filters(), installed.ctx.today())).rows == []
    assert await summaries(installed, officer_view, rows) == [""]
    async with installed.ctx.sessions() as session, session.begin():  # named, the grant left in place
        session.add(Implicated(case_id=leadership.id, staff_id=member.id, named_by=member.id, named_on=installed.ctx.today()))
    assert await summaries(installed, member_view, rows) == [""]
    listing = (await (await browsers(member)).get("/staff/")).text
    assert "The CFO takes kickbacks" not in listing and leadership.reference not in listing


async def test_list_rows_keep_their_dates_whole_and_routing_short(client, browsers, installed):
    await Reporter(client).file(LEADERSHIP)
    listing = (await (await browsers(installed.audit_committee)).get("/staff/")).text
    assert '<abbr title="Audit Committee only (concerns leadership)">Committee</abbr>' in listing
    assert re.search(r'<td class="date[^"]*" data-label="Received">\d{4}-\d\d-\d\d</td>', listing)


# The timeline


async def test_the_timeline_shows_steps_and_who_took_them_never_content(client, browsers, installed, clock):
    reporter = Reporter(client)
    receipt = await reporter.file(CONFIDENTIAL)
    reference = (await case_for(installed.ctx, receipt)).reference
    officer = await browsers(installed.compliance_officer)
    await officer.post(f"/staff/cases/{reference}/acknowledge")
    await officer.post(f"/staff/cases/{reference}/reply", {"body": "Who approved the payment?"})
    await officer.post(f"/staff/cases/{reference}/note", {"body": "Check the agent's ledger first"})
    await officer.post(f"/staff/cases/{reference}/assign", {"assignee": installed.investigator.id})
    await officer.post(f"/staff/cases/{reference}/reveal", {"reason": "arrange an interview"})
    timeline = timeline_of((await officer.get(f"/staff/cases/{reference}")).text)
    for step in (
        "Report filed",
        "Status changed from received to acknowledged",
        "Reply sent to the reporter",
        "Internal note added",
        "Assigned to investigator@example.test",
        "Access given to investigator@example.test",
        "The reporter&#39;s identity revealed",
    ):
        assert step in timeline, step
    assert "(compliance_officer@example.test)" in timeline
    for content in ("Who approved", "ledger", "Ana Example", "arrange an interview", "Cash to an inspector"):
        assert content not in timeline, content
    assert "viewed" not in timeline.lower()  # reads are in the audit log, not here
    # Who may view the case sees its timeline.
    investigator = await browsers(installed.investigator)
    assert "Reply sent to the reporter" in timeline_of((await investigator.get(f"/staff/cases/{reference}")).text)


async def test_the_reporters_acts_show_by_day_only_and_in_no_order_within_it(client, browsers, installed, clock):
    reporter = Reporter(client)
    receipt = await reporter.file()
    reference = (await case_for(installed.ctx, receipt)).reference
    officer = await browsers(installed.compliance_officer)
    await officer.post(f"/staff/cases/{reference}/acknowledge")
    # A message, then a retaliation report: shown by their words, not their order.
    await reporter.write(receipt, "Here is more.")
    await reporter.write(receipt, "I was moved.", retaliation=True)
    waiting = timeline_of((await officer.get(f"/staff/cases/{reference}")).text)
    await close_the_day(installed.ctx)  # now in the chain, dated 00:00
    chained = timeline_of((await officer.get(f"/staff/cases/{reference}")).text)
    for timeline in (waiting, chained):
        said = timeline.index("The reporter said they face retaliation")
        sent = timeline.index("The reporter sent a message")
        assert said < sent  # alphabetical: the opposite of the order they happened
        for line in re.findall(r"<li>.*?</li>", timeline):
            if "(the reporter)" in line or "(the system)" in line:
                assert "that day" in line and not re.search(r"\d\d:\d\d", line), line
            else:
                assert re.search(r"<time datetime=\"[^\"]+T[^\"]+\">\d\d:\d\d</time>", line), line
    assert "(the reporter)" in chained and "Report filed" in chained


# Actions logged without a case (accounts, logins, lists, imports): never on a timeline.
CASELESS = {
    "login", "login.failed", "login.enrolling", "logout", "totp.enrolled", "password.changed", "password.recovered",
    "staff.created", "staff.changed", "hr.imported", "export", "list.added", "list.renamed", "list.retired",
    "list.reactivated", "register.viewed", "boardpack.generated",
}  # fmt: skip


def logged_actions() -> set[str]:
    """Every action name the domain writes to the audit log, read from its calls."""
    found = set()
    for path in (ROOT / "cases").glob("*.py"):
        text = path.read_text()
        for call in re.finditer(r"(?:audit\.record|reporter_event)\(", text):
            window = text[call.end() : call.end() + 200].split("at=")[0]
            if re.match(r"\s*session,\s*action\b", window):  # action = "a" if ... else "b", just before
                window = re.findall(r"action = (.*)", text[: call.start()])[-1]
            found |= set(re.findall(r'"([a-z_]+(?:\.[a-z_]+)?)"', window.split("detail=")[0]))
            if 'f"minutes.{answer}"' in window:
                found |= {f"minutes.{answer}" for answer in MINUTES_ANSWERS}
    return found - {"session", "active", "check_in"}  # words of a call that are not its action


@pytest.mark.backend_agnostic
def test_every_logged_case_action_has_words_on_the_timeline():
    """A new step logged without a label would show its bare name: label it in cases/timeline.py."""
    actions = logged_actions()
    assert {"report.filed", "case.recused", "flag.resolved", "minutes.confirmed"} <= actions  # the reading works
    assert actions - CASELESS - set(LABELS) - set(NOT_SHOWN) == set()


# What a step says it did


@pytest.mark.backend_agnostic
def test_every_step_of_the_case_page_says_what_it_did():
    assert set(ACTIONS) | {"reveal"} <= set(done.SENTENCES)
    assert set(FLAG_STEPS) <= set(done.FLAG_SENTENCES)


async def test_after_each_step_the_page_says_what_happened(client, browsers, installed):
    receipt = await Reporter(client).file()
    reference = (await case_for(installed.ctx, receipt)).reference
    officer = await browsers(installed.compliance_officer)

    async def step(action: str, data: dict | None = None) -> str:
        response = await officer.post(f"/staff/cases/{reference}/{action}", data)
        assert response.status_code == 303 and response.headers["location"].endswith(f"?done={action}")
        return (await officer.get(response.headers["location"])).text

    page = await step("acknowledge")
    feedback_by = (await case_for(installed.ctx, receipt)).feedback_by.isoformat()
    assert f"Acknowledged; the reporter now sees the feedback date {feedback_by}." in page
    assert "Reply sent; the reporter reads it on the follow-up page" in await step("reply", {"body": "Thank you."})
    assert "Note added; staff holding the case read it, the reporter never does." in await step("note", {"body": "n"})
    assert "Assigned to investigator@example.test" in await step("assign", {"assignee": installed.investigator.id})
    assert "Escalated to the Audit Committee" in await step("escalate", {"reason": "the board should see this"})
    # The name of an unknown step says nothing: a link cannot put words on the page.
    crafted = (await officer.get(f"/staff/cases/{reference}?done=Your+password+expired")).text
    assert "password expired" not in crafted and 'class="notice"' not in crafted


# Steps that cannot be undone


async def test_recusing_without_the_tick_is_refused_and_changes_nothing(client, browsers, installed):
    reference = (await case_for(installed.ctx, await Reporter(client).file({"category": "books_records"}))).reference
    officer = await browsers(installed.compliance_officer)
    page = (await officer.get(f"/staff/cases/{reference}")).text
    assert 'id="confirm-recuse"' in page
    no_duplicate_ids(page)
    refused = await officer.post(f"/staff/cases/{reference}/recuse")
    assert refused.status_code == 422 and "Tick the box to confirm" in refused.text
    assert (await officer.get(f"/staff/cases/{reference}")).status_code == 200  # still theirs
    recused = await officer.post(f"/staff/cases/{reference}/recuse", {"confirm": "yes"})
    assert recused.status_code == 303


async def test_closing_without_the_tick_is_refused_and_changes_nothing(client, browsers, installed):
    receipt = await Reporter(client).file()
    reference = (await case_for(installed.ctx, receipt)).reference
    officer = await browsers(installed.compliance_officer)
    refused = await officer.post(f"/staff/cases/{reference}/close", {"closure": "out_of_scope", "message": "Closed."})
    assert refused.status_code == 422 and "Tick the box to confirm" in refused.text
    assert (await case_for(installed.ctx, receipt)).status == "received"


async def test_a_hand_over_without_the_tick_is_refused_and_moves_nothing(client, browsers, installed):
    receipt = await Reporter(client).file()
    reference = (await case_for(installed.ctx, receipt)).reference
    successor = await new_staff(installed, "successor@example.test", "investigator")
    officer = await browsers(installed.compliance_officer)
    await officer.post(f"/staff/cases/{reference}/assign", {"assignee": installed.investigator.id})
    assert 'name="confirm"' in (await officer.get("/staff/team")).text
    refused = await officer.post("/staff/team", {"leaver": installed.investigator.id, "successor": successor.id})
    assert refused.status_code == 422 and "Tick the box to confirm" in refused.text
    assert (await case_for(installed.ctx, receipt)).assignee_id == installed.investigator.id
    moved = await officer.post("/staff/team", {"leaver": installed.investigator.id, "successor": successor.id, "confirm": "yes"})
    assert moved.status_code == 303
    after = (await officer.get(moved.headers["location"])).text
    assert f"Handed over 1 case(s): {reference}." in after
    assert (await case_for(installed.ctx, receipt)).assignee_id == successor.id


async def test_disabling_an_account_without_the_tick_is_refused_and_it_stays_active(browsers, installed):
    admin = await new_staff(installed, "admin@example.test", "admin")
    newcomer = await new_staff(installed, "new@example.test", "investigator")
    administrator = await browsers(admin)
    page = (await administrator.get("/staff/admin")).text
    assert f'id="confirm-disable-{newcomer.id}"' in page
    no_duplicate_ids(page)
    refused = await administrator.post(f"/staff/admin/staff/{newcomer.id}", {"change": "disable"})
    assert refused.status_code == 422 and "Tick the box to confirm" in refused.text
    assert f'aria-describedby="confirm-disable-{newcomer.id}-error"' in refused.text
    no_duplicate_ids(refused.text)
    async with installed.ctx.sessions() as session:
        assert (await session.get(Staff, newcomer.id)).active
    disabled = await administrator.post(f"/staff/admin/staff/{newcomer.id}", {"change": "disable", "confirm": "yes"})
    assert (disabled.status_code, disabled.headers["location"]) == (303, "/staff/admin?done=disable")
    assert "Account disabled" in (await administrator.get(disabled.headers["location"])).text


async def test_a_flag_is_resolved_as_unfounded_only_with_the_tick_and_no_choice_made_for_you(client, browsers, installed):
    for summary in ("First", "Second"):
        reporter = Reporter(client)
        receipt = await reporter.file({"summary": summary})
        await reporter.write(receipt, "They moved me.", retaliation=True)
    reference = (await case_for(installed.ctx, receipt)).reference
    officer = await browsers(installed.compliance_officer)
    page = (await officer.get("/staff/flags")).text
    no_duplicate_ids(page)
    radios = re.findall(r'<input type="radio" name="resolution"[^>]*>', page)
    assert len(radios) == 8 and not [r for r in radios if "checked" in r]
    assert "Duplicate of another flag" in page and "Unfounded: no adverse action took place" in page
    record = {"step": "resolve", "resolution": "unfounded", "record": "The move was the whole team's, agreed in May."}
    refused = await officer.post(f"/staff/cases/{reference}/flags/1", record)
    assert refused.status_code == 422 and "Tick the box to confirm" in refused.text
    no_duplicate_ids(refused.text)
    async with installed.ctx.sessions() as session:
        assert (await session.scalars(select(RetaliationFlag.status))).all() == ["open", "open"]
    unknown = await officer.post(f"/staff/cases/{reference}/flags/1", {**record, "resolution": "", "confirm": "yes"})
    assert unknown.status_code == 422 and "duplicate of another flag, unfounded" in unknown.text
    resolved = await officer.post(f"/staff/cases/{reference}/flags/1", {**record, "confirm": "yes"})
    assert (resolved.status_code, resolved.headers["location"]) == (303, "/staff/flags?done=resolve")
    assert "Flag resolved" in (await officer.get(resolved.headers["location"])).text
    async with installed.ctx.sessions() as session:
        flag = await session.scalar(select(RetaliationFlag).join(Case).where(Case.reference == reference))
    assert (flag.status, flag.resolution) == ("resolved", "unfounded") and b"May" not in flag.resolution_box


# Reveal: post/redirect/get, to the revealer only, for a while


async def test_a_reveal_redirects_and_a_reload_neither_reveals_nor_logs_again(client, browsers, installed, clock):
    reference = (await case_for(installed.ctx, await Reporter(client).file(CONFIDENTIAL))).reference
    officer = await browsers(installed.compliance_officer)
    revealed = await officer.post(f"/staff/cases/{reference}/reveal", {"reason": "arrange an interview"})
    assert (revealed.status_code, revealed.headers["location"]) == (303, f"/staff/cases/{reference}?done=reveal")
    for _ in range(2):  # the page, then a reload
        page = (await officer.get(revealed.headers["location"])).text
        assert "Ana Example" in page and "+1 555 0100" in page and "Revealed and logged" in page
    assert await reveals(installed) == 1
    committee = await browsers(installed.audit_committee)  # holds the case too, revealed nothing
    assert "Ana Example" not in (await committee.get(f"/staff/cases/{reference}")).text
    clock.advance(minutes=11)
    later = (await officer.get(f"/staff/cases/{reference}")).text
    assert "Ana Example" not in later and "Reveal the name and contact" in later
    assert await reveals(installed) == 1


async def test_an_investigator_may_not_reveal_and_is_not_offered_to(client, browsers, installed):
    reference = (await case_for(installed.ctx, await Reporter(client).file(CONFIDENTIAL))).reference
    officer = await browsers(installed.compliance_officer)
    await officer.post(f"/staff/cases/{reference}/assign", {"assignee": installed.investigator.id})
    investigator = await browsers(installed.investigator)
    page = (await investigator.get(f"/staff/cases/{reference}")).text
    # Not even whether a name was given: the identity box stays shut for a role that may not reveal it.
    assert "Only the Compliance Officer and the Audit Committee see whether" in page
    assert "The reporter gave" not in page and "Reveal the name and contact" not in page
    assert (await investigator.post(f"/staff/cases/{reference}/reveal", {"reason": "curious"})).status_code == 403
    assert await reveals(installed) == 0


@pytest.mark.parametrize(
    "fields, says",
    [(CONFIDENTIAL, "The reporter gave a name (confidential report)"), ({}, "The reporter gave no name")],
)
async def test_the_page_says_whether_a_name_was_given_without_a_reveal(client, browsers, installed, fields, says):
    reference = (await case_for(installed.ctx, await Reporter(client).file(fields))).reference
    page = (await (await browsers(installed.compliance_officer)).get(f"/staff/cases/{reference}")).text
    assert says in page and "Ana Example" not in page
    assert ("Reveal the name and contact" in page) == bool(fields)
    assert await reveals(installed) == 0


async def test_a_revealed_identity_does_not_outlive_a_role_that_may_not_reveal(client, browsers, installed):
    """An account moved to a role that may not reveal sees no identity it revealed before."""
    reference = (await case_for(installed.ctx, await Reporter(client).file(CONFIDENTIAL))).reference
    officer = await browsers(installed.compliance_officer)
    await officer.post(f"/staff/cases/{reference}/reveal", {"reason": "arrange an interview"})
    async with installed.ctx.sessions() as session, session.begin():
        (await session.get(Staff, installed.compliance_officer.id)).role = "investigator"
    assert "Ana Example" not in (await officer.get(f"/staff/cases/{reference}")).text


async def test_the_reveal_window_is_the_revealers_latest_reveal(client, browsers, installed, clock):
    reference = (await case_for(installed.ctx, await Reporter(client).file(CONFIDENTIAL))).reference
    officer = await browsers(installed.compliance_officer)
    await officer.post(f"/staff/cases/{reference}/reveal", {"reason": "arrange an interview"})
    clock.advance(minutes=8)
    await officer.post(f"/staff/cases/{reference}/reveal", {"reason": "second interview"})
    clock.advance(minutes=8)  # 16 minutes after the first, 8 after the second
    assert "Ana Example" in (await officer.get(f"/staff/cases/{reference}")).text
    assert await reveals(installed) == 2
    assert REVEAL_WINDOW == timedelta(minutes=10)
