"""Assess a report, close a case without an investigation, link cases (cases/lifecycle.py), and the
administrator's lists (cases/lists.py): through the staff site and the reporter's follow-up page."""

import asyncio
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from cases.accounts import create_staff
from cases.lifecycle import CLOSING_MESSAGES
from cases.models import AuditEntry, Case, CaseLink, ListEntry
from tests.conftest import STAFF_PASSWORD, Reporter, StaffBrowser, case_for, close_the_day, count_rows, new_app

SEE_OTHER = 303
PLAN = "Interview the logistics agent, pull the customs ledger, compare with the fee invoices."


# For the tests of other steps: an assessment that lets the investigation start, and a closure after a finding.
IN_SCOPE = {
    "admissibility": "in_scope",
    "priority": "medium",
    "detriment_risk": "low",
    "allegations": "official_bribery",
    "plan": "Interview the people involved; check the books.",
    "investigation_due": "2099-12-31",
}
CLOSE_INVESTIGATED = {"closure": "investigated", "message": CLOSING_MESSAGES["investigated"], "confirm": "yes"}


def assessment(clock, **fields) -> dict:
    """An assessment form as staff send it: in scope, due in two months."""
    return {
        "admissibility": "in_scope",
        "priority": "high",
        "detriment_risk": "low",
        "allegations": ["official_bribery", "false_records"],
        "business_unit": "",
        "country": "",
        "plan": PLAN,
        "investigation_due": (clock().date() + timedelta(days=60)).isoformat(),
        **fields,
    }


def closing(code: str, **fields) -> dict:
    return {"closure": code, "message": CLOSING_MESSAGES[code], "confirm": "yes", **fields}


async def new_case(reporter: Reporter, installed, **fields) -> tuple[str, str]:
    receipt = await reporter.file(fields or None)
    return receipt, (await case_for(installed.ctx, receipt)).reference


async def case_row(installed, reference: str) -> Case:
    async with installed.ctx.sessions() as session:
        return (await session.scalars(select(Case).where(Case.reference == reference))).one()


async def links(installed) -> set[tuple[str, str, str]]:
    """Every link row, as (case, other case, kind) references."""
    async with installed.ctx.sessions() as session:
        refs = dict((await session.execute(select(Case.id, Case.reference))).all())
        rows = (await session.execute(select(CaseLink.case_id, CaseLink.other_id, CaseLink.kind))).all()
    return {(refs[a], refs[b], kind) for a, b, kind in rows}


async def admin_browser(installed, browsers) -> StaffBrowser:
    async with installed.ctx.sessions() as session:
        admin = await create_staff(session, installed.ctx, email="admin@example.test", role="admin", password=STAFF_PASSWORD)
    return await browsers(admin)


# Assess


async def test_assessing_a_received_report_acknowledges_it_and_lets_the_investigation_start(reporter, browsers, installed, clock):
    receipt, reference = await new_case(reporter, installed)
    officer = await browsers(installed.compliance_officer)
    path = f"/staff/cases/{reference}"
    assert (await officer.post(f"{path}/investigate")).status_code == 409  # not assessed, not even acknowledged

    assessed = await officer.post(f"{path}/assess", assessment(clock))
    assert assessed.status_code == SEE_OTHER and assessed.headers["location"].endswith("?done=assess")
    page = (await officer.get(assessed.headers["location"])).text
    for shown in ("In scope: to be investigated", "High", "Payment, offer or promise to a foreign official", PLAN):
        assert shown in page, shown
    assert "False, missing or misleading books and records" in page
    assert (clock().date() + timedelta(days=60)).isoformat() in page
    case = await case_row(installed, reference)
    assert case.status == "acknowledged" and case.acknowledged_on == clock().date() and case.assessed_on == clock().date()
    assert "Acknowledged" in (await reporter.open(receipt)).text

    assert (await officer.post(f"{path}/investigate")).status_code == SEE_OTHER
    async with installed.ctx.sessions() as session:
        entries = (await session.execute(select(AuditEntry.action, AuditEntry.detail).where(AuditEntry.case_id == case.id))).all()
    assert ("status.changed", "received -> acknowledged") in entries
    assert ("case.assessed", "in_scope, priority high, detriment risk low") in entries
    assert all(PLAN not in detail for _, detail in entries)  # coded detail only


async def test_a_case_not_assessed_in_scope_cannot_be_investigated(reporter, browsers, installed, clock):
    _, reference = await new_case(reporter, installed)
    officer = await browsers(installed.compliance_officer)
    assert (await officer.post(f"/staff/cases/{reference}/acknowledge")).status_code == SEE_OTHER
    assert (await officer.post(f"/staff/cases/{reference}/investigate")).status_code == 409
    out = assessment(clock, admissibility="out_of_scope", plan="", investigation_due="", allegations=[])
    assert (await officer.post(f"/staff/cases/{reference}/assess", out)).status_code == SEE_OTHER
    refused = await officer.post(f"/staff/cases/{reference}/investigate")
    assert refused.status_code == 409 and "assessed as in scope" in refused.text
    case = await case_row(installed, reference)
    assert case.admissibility == "out_of_scope" and case.investigation_due is None


async def test_an_assessment_names_each_bad_field(reporter, browsers, installed, clock):
    _, reference = await new_case(reporter, installed)
    officer = await browsers(installed.compliance_officer)
    path = f"/staff/cases/{reference}/assess"
    empty = await officer.post(path, {"admissibility": "in_scope"})
    assert empty.status_code == 422
    for message in (
        "Choose a priority.",
        "Choose the risk of detriment",
        "at least one allegation type",
        "Write the investigation plan",
        "due date",
    ):
        assert message in empty.text, message
    past = await officer.post(path, assessment(clock, investigation_due=(clock().date() - timedelta(days=1)).isoformat()))
    assert past.status_code == 422 and "cannot be in the past" in past.text
    assert PLAN in past.text  # the refused form keeps what was typed
    unknown = await officer.post(path, assessment(clock, allegations=["official_bribery", "tax_evasion"], country="987654"))
    assert unknown.status_code == 422 and "allegation types from the list" in unknown.text
    assert (await case_row(installed, reference)).status == "received"  # nothing recorded, not even the acknowledgement


async def test_the_retaliation_watch_follows_the_latest_assessment(reporter, browsers, installed, clock):
    _, reference = await new_case(reporter, installed)
    officer = await browsers(installed.compliance_officer)
    path = f"/staff/cases/{reference}"
    assert (await officer.post(f"{path}/assess", assessment(clock, detriment_risk="high"))).status_code == SEE_OTHER
    assert (await case_row(installed, reference)).retaliation_watch
    assert "retaliation watch" in (await officer.get(path)).text
    assert (await officer.post(f"{path}/assess", assessment(clock, detriment_risk="medium"))).status_code == SEE_OTHER
    assert not (await case_row(installed, reference)).retaliation_watch
    async with installed.ctx.sessions() as session:
        actions = (
            await session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("watch.%")).order_by(AuditEntry.id))
        ).all()
    assert actions == ["watch.raised", "watch.lifted"]  # a lifted watch is on the record


async def test_the_administrators_lists_code_the_assessment(reporter, browsers, installed, clock):
    admin = await admin_browser(installed, browsers)
    for kind, label in (("business_unit", "Logistics"), ("business_unit", "Sales Andes"), ("country", "Peru")):
        added = await admin.post("/staff/admin/lists", {"change": "add", "kind": kind, "label": label})
        assert added.status_code == SEE_OTHER
    again = await admin.post("/staff/admin/lists", {"change": "add", "kind": "country", "label": "  peru "})
    assert again.status_code == 422 and "already" in again.text
    async with installed.ctx.sessions() as session:
        ids = dict((await session.execute(select(ListEntry.label, ListEntry.id))).all())
    assert (
        await admin.post("/staff/admin/lists", {"change": "rename", "entry": ids["Sales Andes"], "label": "Sales Andean region"})
    ).status_code == SEE_OTHER
    assert (await admin.post("/staff/admin/lists", {"change": "retire", "entry": ids["Logistics"]})).status_code == SEE_OTHER
    page = (await admin.get("/staff/admin/lists")).text
    assert "Sales Andean region" in page and "retired" in page

    _, reference = await new_case(reporter, installed)
    officer = await browsers(installed.compliance_officer)
    assert (await officer.get("/staff/admin/lists")).status_code == 403  # administrators only
    form = (await officer.get(f"/staff/cases/{reference}")).text
    assert "Sales Andean region" in form and "Peru" in form and "Logistics" not in form  # retired: not offered
    retired = await officer.post(f"/staff/cases/{reference}/assess", assessment(clock, business_unit=str(ids["Logistics"])))
    assert retired.status_code == 422
    wrong_kind = await officer.post(f"/staff/cases/{reference}/assess", assessment(clock, business_unit=str(ids["Peru"])))
    assert wrong_kind.status_code == 422
    coded = assessment(clock, business_unit=str(ids["Sales Andes"]), country=str(ids["Peru"]))
    assert (await officer.post(f"/staff/cases/{reference}/assess", coded)).status_code == SEE_OTHER
    # Retired after use: the case keeps it, and a reassessment may keep it too.
    assert (await admin.post("/staff/admin/lists", {"change": "retire", "entry": ids["Sales Andes"]})).status_code == SEE_OTHER
    page = (await officer.get(f"/staff/cases/{reference}")).text
    assert "Sales Andean region" in page
    assert (await officer.post(f"/staff/cases/{reference}/assess", coded)).status_code == SEE_OTHER
    assert (await admin.post("/staff/admin/lists", {"change": "reactivate", "entry": ids["Logistics"]})).status_code == SEE_OTHER
    assert "Logistics" in (await officer.get(f"/staff/cases/{reference}")).text


# Close


async def test_a_report_closed_as_out_of_scope_tells_the_reporter(reporter, browsers, installed, clock):
    receipt, reference = await new_case(reporter, installed)
    officer = await browsers(installed.compliance_officer)
    path = f"/staff/cases/{reference}"
    assert (await officer.post(f"{path}/acknowledge")).status_code == SEE_OTHER
    out = assessment(clock, admissibility="out_of_scope", plan="", investigation_due="", allegations=[])
    assert (await officer.post(f"{path}/assess", out)).status_code == SEE_OTHER

    choose = (await officer.get(path)).text  # first how it ends, nothing chosen for them
    assert 'name="close" value="out_of_scope" required>' in choose and "checked" not in choose.split('id="close-heading"')[1]
    form = (await officer.get(path, params={"close": "out_of_scope"})).text
    assert CLOSING_MESSAGES["out_of_scope"] in form and 'name="confirm"' in form

    message = "Thank you. This channel handles bribery only; we closed your report. CANARY-closing"
    unconfirmed = await officer.post(f"{path}/close", {"closure": "out_of_scope", "message": message})
    assert unconfirmed.status_code == 422 and message in unconfirmed.text  # the message typed is not lost
    investigated = await officer.post(f"{path}/close", closing("investigated"))
    assert investigated.status_code == 422 and "does not fit" in investigated.text
    closed = await officer.post(f"{path}/close", closing("out_of_scope", message=message))
    assert closed.status_code == SEE_OTHER

    follow_up = (await reporter.open(receipt)).text
    assert message in follow_up and "Closed" in follow_up
    page = (await officer.get(path)).text
    assert "Out of scope" in page and clock().date().isoformat() in page
    case = await case_row(installed, reference)
    assert (case.status, case.closure, case.closed_on) == ("closed", "out_of_scope", clock().date())
    assert case.feedback_given_on == clock().date()  # the closing message is the reporter's feedback
    assert (await officer.post(f"{path}/close", closing("withdrawn"))).status_code == 409  # closed already
    await close_the_day(installed.ctx)
    async with installed.ctx.sessions() as session:
        actions = (await session.scalars(select(AuditEntry.action).where(AuditEntry.case_id == case.id))).all()
    assert "case.closed" in actions and "message.sent" in actions


async def test_a_referral_says_to_whom_only_to_staff(reporter, browsers, installed):
    receipt, reference = await new_case(reporter, installed)
    officer = await browsers(installed.compliance_officer)
    missing = await officer.post(f"/staff/cases/{reference}/close", closing("referred"))
    assert missing.status_code == 422 and "to whom" in missing.text
    referred = await officer.post(
        f"/staff/cases/{reference}/close", closing("referred", referred_to="Group HR, employee relations")
    )
    assert referred.status_code == SEE_OTHER
    assert "Group HR, employee relations" in (await officer.get(f"/staff/cases/{reference}")).text
    follow_up = (await reporter.open(receipt)).text
    assert CLOSING_MESSAGES["referred"] in follow_up and "Group HR" not in follow_up
    case = await case_row(installed, reference)
    assert case.acknowledged_on is not None  # closed on receipt: the closing message acknowledged it


async def test_an_open_retaliation_flag_stops_the_closure_with_its_reason(reporter, browsers, installed):
    receipt, reference = await new_case(reporter, installed)
    await reporter.write(receipt, "My manager moved me to nights after my report.", retaliation=True)
    officer = await browsers(installed.compliance_officer)
    assert "Retaliation flag 1 of this case is not resolved" in (await officer.get(f"/staff/cases/{reference}")).text
    refused = await officer.post(f"/staff/cases/{reference}/close", closing("withdrawn"))
    assert refused.status_code == 409 and "Retaliation flag 1 of this case is not resolved" in refused.text
    resolve = {"step": "resolve", "resolution": "remedy", "record": "Moved back to day shifts.", "confirm": "yes"}
    assert (await officer.post(f"/staff/cases/{reference}/flags/1", resolve)).status_code == SEE_OTHER
    assert (await officer.post(f"/staff/cases/{reference}/close", closing("withdrawn"))).status_code == SEE_OTHER


async def test_open_remediation_needs_a_reason_to_close(reporter, browsers, installed, clock):
    _, reference = await new_case(reporter, installed)
    officer = await browsers(installed.compliance_officer)
    path = f"/staff/cases/{reference}"
    assert (await officer.post(f"{path}/assess", assessment(clock))).status_code == SEE_OTHER
    assert (await officer.post(f"{path}/investigate")).status_code == SEE_OTHER
    finding = {
        "outcome": "substantiated",
        "narrative": "Paid.",
        "root_cause": "inadequate_controls",
        "root_cause_explanation": "One signature.",
    }
    assert (await officer.post(f"{path}/conclude", finding)).status_code == SEE_OTHER
    due = (clock().date() + timedelta(days=30)).isoformat()
    remediate = {"what": "Two signatures on agent fees", "owner": "Finance", "due_on": due}
    assert (await officer.post(f"{path}/remediate", remediate)).status_code == SEE_OTHER

    assert (await officer.post(f"{path}/close", closing("out_of_scope"))).status_code == 422  # a finding: "investigated"
    refused = await officer.post(f"{path}/close", closing("investigated"))
    assert refused.status_code == 422 and "remediation action(s) are still open" in refused.text
    reason = "The owner reports to the Audit Committee from now on. CANARY-reason"
    assert (await officer.post(f"{path}/close", closing("investigated", remediation_reason=reason))).status_code == SEE_OTHER
    assert reason in (await officer.get(path)).text  # an internal note
    case = await case_row(installed, reference)
    assert case.closure == "investigated"
    async with installed.ctx.sessions() as session:
        entries = (await session.execute(select(AuditEntry.action, AuditEntry.detail).where(AuditEntry.case_id == case.id))).all()
    assert ("closure.remediation_open", "1 open") in entries and all("CANARY" not in d for _, d in entries)


# Link


async def test_a_duplicate_closure_links_both_cases_both_ways(reporter, browsers, installed):
    _, first = await new_case(reporter, installed)
    receipt, second = await new_case(reporter, installed)
    officer = await browsers(installed.compliance_officer)
    unknown = await officer.post(f"/staff/cases/{second}/close", closing("duplicate", duplicate_of="2026-ZZZZ-ZZZZ"))
    assert unknown.status_code == 404 and (await case_row(installed, second)).status == "received"
    closed = await officer.post(f"/staff/cases/{second}/close", closing("duplicate", duplicate_of=f" {first.lower()} "))
    assert closed.status_code == SEE_OTHER
    assert await links(installed) == {(second, first, "duplicate_of"), (first, second, "duplicated_by")}
    assert f'Duplicate of <a href="/staff/cases/{first}">{first}</a>' in (await officer.get(f"/staff/cases/{second}")).text
    assert f'Duplicated by <a href="/staff/cases/{second}">{second}</a>' in (await officer.get(f"/staff/cases/{first}")).text
    follow_up = (await reporter.open(receipt)).text
    assert CLOSING_MESSAGES["duplicate"] in follow_up and first not in follow_up  # no other case named to the reporter


async def test_cases_are_linked_once_both_ways(reporter, browsers, installed):
    _, one = await new_case(reporter, installed)
    _, other = await new_case(reporter, installed)
    officer = await browsers(installed.compliance_officer)
    linked = await officer.post(f"/staff/cases/{one}/link", {"other_case": other, "link_kind": "related"})
    assert linked.status_code == SEE_OTHER and linked.headers["location"].endswith("?done=link")
    assert await links(installed) == {(one, other, "related"), (other, one, "related")}
    assert other in (await officer.get(f"/staff/cases/{one}")).text and one in (await officer.get(f"/staff/cases/{other}")).text
    twice = await officer.post(f"/staff/cases/{other}/link", {"other_case": one, "link_kind": "duplicate_of"})
    assert twice.status_code == 422 and "linked already" in twice.text
    itself = await officer.post(f"/staff/cases/{one}/link", {"other_case": one, "link_kind": "related"})
    assert itself.status_code == 422 and "cannot be linked to itself" in itself.text
    assert len(await links(installed)) == 2


async def test_a_case_the_linker_does_not_hold_answers_as_an_unknown_one(client, reporter, browsers, installed):
    _, ordinary = await new_case(reporter, installed)
    _, leadership = await new_case(reporter, installed, concerns_leadership="yes")  # the Audit Committee's only
    officer = await browsers(installed.compliance_officer)
    hidden = await officer.post(f"/staff/cases/{ordinary}/link", {"other_case": leadership, "link_kind": "related"})
    unknown = await officer.post(f"/staff/cases/{ordinary}/link", {"other_case": "2026-ZZZZ-ZZZZ", "link_kind": "related"})
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.text.replace(leadership, "REF") == unknown.text.replace("2026-ZZZZ-ZZZZ", "REF")  # the same answer
    duplicate = await officer.post(f"/staff/cases/{ordinary}/close", closing("duplicate", duplicate_of=leadership))
    assert duplicate.status_code == 404
    assert await count_rows(installed.ctx, CaseLink) == 0
    assert (await case_row(installed, ordinary)).status == "received"


async def test_a_link_shows_no_case_the_reader_may_not_open(reporter, browsers, installed):
    # Both held by the Compliance Officer and the Committee; a third for the Committee only.
    _, shared = await new_case(reporter, installed, category="books_records")
    _, implicating = await new_case(reporter, installed, category="books_records")
    _, leadership = await new_case(reporter, installed, concerns_leadership="yes")
    member = await browsers(installed.audit_committee)
    for other in (implicating, leadership):
        assert (
            await member.post(f"/staff/cases/{shared}/link", {"other_case": other, "link_kind": "related"})
        ).status_code == SEE_OTHER
    officer = await browsers(installed.compliance_officer)
    assert implicating in (await officer.get(f"/staff/cases/{shared}")).text  # held: shown
    assert (
        await member.post(f"/staff/cases/{implicating}/implicate", {"staff": installed.compliance_officer.id})
    ).status_code == SEE_OTHER
    seen_by_officer = (await officer.get(f"/staff/cases/{shared}")).text
    assert implicating not in seen_by_officer and leadership not in seen_by_officer
    assert "a case you do not hold" not in seen_by_officer  # not even that one exists
    seen_by_member = (await member.get(f"/staff/cases/{shared}")).text
    assert implicating in seen_by_member and leadership in seen_by_member


async def test_two_staff_linking_a_case_pair_from_both_ends_at_once_make_one_pair(client, app, settings, installed, clock):
    """As tests/test_concurrency.py races steps: two workers (two apps, two pools) on one database.
    Each link locks both cases in case-id order, so A-B and B-A take turns: one links, the other is told."""
    rounds = 6
    other_app = new_app(settings)
    other_app.state.ctx.clock = clock
    async with other_app.router.lifespan_context(other_app):
        email = installed.compliance_officer.email
        one, other = StaffBrowser(app, clock, email), StaffBrowser(other_app, clock, email)
        for browser in (one, other):
            assert (await browser.login()).status_code == SEE_OTHER
        reporter = Reporter(client)
        for _ in range(rounds):
            _, a = await new_case(reporter, installed)
            _, b = await new_case(reporter, installed)
            answers = await asyncio.gather(
                one.post(f"/staff/cases/{a}/link", {"other_case": b, "link_kind": "related"}),
                other.post(f"/staff/cases/{b}/link", {"other_case": a, "link_kind": "duplicate_of"}),
            )
            # One after the other: a deadlock would answer 409 (web/handlers.py), a lost race 500.
            assert sorted(r.status_code for r in answers) == [SEE_OTHER, 422]
            kinds = {(x, y): kind for x, y, kind in await links(installed) if {x, y} == {a, b}}
            assert kinds in ({(a, b): "related", (b, a): "related"}, {(b, a): "duplicate_of", (a, b): "duplicated_by"})
        for browser in (one, other):
            await browser.aclose()
    assert await count_rows(installed.ctx, CaseLink) == 2 * rounds


# Who may


async def test_an_investigator_cannot_assess_close_or_link(reporter, browsers, installed, clock):
    _, reference = await new_case(reporter, installed)
    _, other = await new_case(reporter, installed)
    officer = await browsers(installed.compliance_officer)
    for case in (reference, other):
        assert (
            await officer.post(f"/staff/cases/{case}/assign", {"assignee": installed.investigator.id})
        ).status_code == SEE_OTHER
    investigator = await browsers(installed.investigator)
    page = (await investigator.get(f"/staff/cases/{reference}")).text
    assert 'action="/staff/cases/' + reference + '/assess"' not in page
    for step, form in (
        ("assess", assessment(clock)),
        ("close", closing("withdrawn")),
        ("link", {"other_case": other, "link_kind": "related"}),
    ):
        assert (await investigator.post(f"/staff/cases/{reference}/{step}", form)).status_code == 403, step
    case = await case_row(installed, reference)
    assert (case.status, case.admissibility) == ("received", None)


# At rest and on reload


async def test_the_plan_and_the_referral_are_sealed_at_rest(reporter, browsers, installed, clock, settings, app):
    plan, referral = "CANARYPLAN-7f3e91", "CANARYREFERRAL-a02c55"
    _, assessed = await new_case(reporter, installed)
    _, referred = await new_case(reporter, installed)
    officer = await browsers(installed.compliance_officer)
    assert (await officer.post(f"/staff/cases/{assessed}/assess", assessment(clock, plan=plan))).status_code == SEE_OTHER
    assert (
        await officer.post(f"/staff/cases/{referred}/close", closing("referred", referred_to=referral))
    ).status_code == SEE_OTHER
    assert plan in (await officer.get(f"/staff/cases/{assessed}")).text
    assert referral in (await officer.get(f"/staff/cases/{referred}")).text
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        await app.state.ctx.engine.dispose()  # the WAL checkpointed into the file
        database = Path(url.database)
        stored = b"".join(p.read_bytes() for p in database.parent.iterdir() if p.name.startswith(database.name))
    else:
        stored = subprocess.run(
            ["pg_dump", "--no-owner", url.set(drivername="postgresql").render_as_string(hide_password=False)],
            capture_output=True,
            check=True,
        ).stdout
    assert b"COPY public.cases" in stored or b"SQLite format 3" in stored
    for canary in (plan, referral):
        for encoding in ("utf-8", "utf-16-le"):
            assert canary.encode(encoding) not in stored, canary


async def test_every_lifecycle_form_answers_with_a_redirect(reporter, browsers, installed, clock):
    """Post/redirect/get: reloading the page after a step shows it again, it never repeats the step."""
    _, one = await new_case(reporter, installed)
    _, other = await new_case(reporter, installed)
    officer = await browsers(installed.compliance_officer)
    admin = await admin_browser(installed, browsers)
    async with installed.ctx.sessions() as session:
        before = await session.scalar(select(func.count()).select_from(AuditEntry))
    posts = [
        (officer, f"/staff/cases/{one}/assess", assessment(clock)),
        (officer, f"/staff/cases/{one}/link", {"other_case": other, "link_kind": "related"}),
        (officer, f"/staff/cases/{other}/close", closing("duplicate", duplicate_of=one)),
        (admin, "/staff/admin/lists", {"change": "add", "kind": "country", "label": "Chile"}),
    ]
    for browser, path, form in posts:
        answer = await browser.post(path, form)
        assert answer.status_code == SEE_OTHER, path
        shown = await browser.get(answer.headers["location"])
        assert shown.status_code == 200, path
    async with installed.ctx.sessions() as session:
        entry = await session.scalar(select(ListEntry.id))
    for change in ("rename", "retire", "reactivate"):
        answer = await admin.post("/staff/admin/lists", {"change": change, "entry": entry, "label": "Chile (mainland)"})
        assert answer.status_code == SEE_OTHER and (await admin.get(answer.headers["location"])).status_code == 200
    assert len(await links(installed)) == 2 and await count_rows(installed.ctx, ListEntry) == 1
    async with installed.ctx.sessions() as session:
        after = await session.scalar(select(func.count()).select_from(AuditEntry))
    assert after > before


@pytest.mark.backend_agnostic
def test_every_closure_has_a_closing_message():
    from cases.vocabulary import CLOSURES

    assert set(CLOSING_MESSAGES) == set(CLOSURES)
    for text in CLOSING_MESSAGES.values():
        assert "this page" in text  # where the reporter can still write, retaliation included
