"""The Compliance Officer runs a case from receipt to closure; the reporter follows it."""

import re

import pytest
from sqlalchemy import select, text, update

from cases import audit
from cases.models import AuditEntry, Case, Grant
from tests.conftest import Reporter, case_for, close_the_day
from tests.test_lifecycle import CLOSE_INVESTIGATED, IN_SCOPE


async def only_reference(installed) -> str:
    async with installed.ctx.sessions() as session:
        return (await session.scalars(select(Case.reference))).one()


async def test_case_from_receipt_to_closure(client, browsers, installed):
    reporter = Reporter(client)
    receipt = await reporter.file(
        {"summary": "Cash to an inspector", "anonymity": "confidential", "name": "Ana Example", "contact": "+1 555 0100"},
        files=[("attachments", ("ledger.csv", b"date,amount\n2026-03-01,5000\n", "text/csv"))],
    )
    reference = await only_reference(installed)
    officer = await browsers(installed.compliance_officer)

    listing = (await officer.get("/staff/")).text
    assert reference in listing and "received" in listing
    page = (await officer.get(f"/staff/cases/{reference}")).text
    assert "Cash to an inspector" in page and "ledger.csv" in page
    assert "Ana Example" not in page  # identity only on an explicit, logged reveal

    assert (await officer.post(f"/staff/cases/{reference}/acknowledge")).status_code == 303
    assert (await officer.post(f"/staff/cases/{reference}/reply", {"body": "Who approved the payment?"})).status_code == 303
    assert (await officer.post(f"/staff/cases/{reference}/note", {"body": "Check the agent's ledger first"})).status_code == 303
    follow_up = (await reporter.open(receipt)).text
    assert "Acknowledged" in follow_up and "Who approved the payment?" in follow_up
    assert "Check the agent" not in follow_up

    revealed = await officer.post(f"/staff/cases/{reference}/reveal", {"reason": "arrange an interview"})
    assert revealed.status_code == 303  # post/redirect/get: the case page shows it (tests/test_staff_pages.py)
    shown = (await officer.get(revealed.headers["location"])).text
    assert "Ana Example" in shown and "+1 555 0100" in shown

    file_id = re.search(rf"/staff/cases/{reference}/attachments/(\d+)", page).group(1)
    download = await officer.get(f"/staff/cases/{reference}/attachments/{file_id}")
    assert download.content == b"date,amount\n2026-03-01,5000\n"
    assert download.headers["content-type"] == "application/octet-stream"
    assert download.headers["content-disposition"] == "attachment; filename=\"ledger.csv\"; filename*=UTF-8''ledger.csv"

    investigator = await browsers(installed.investigator)
    assert reference not in (await investigator.get("/staff/")).text
    assert (await investigator.get(f"/staff/cases/{reference}")).status_code == 404
    assert (await officer.post(f"/staff/cases/{reference}/assign", {"assignee": installed.investigator.id})).status_code == 303
    assert reference in (await investigator.get("/staff/")).text
    assert "Cash to an inspector" in (await investigator.get(f"/staff/cases/{reference}")).text

    assert (await officer.post(f"/staff/cases/{reference}/assess", IN_SCOPE)).status_code == 303
    assert (await officer.post(f"/staff/cases/{reference}/investigate")).status_code == 303
    missing_root_cause = await officer.post(
        f"/staff/cases/{reference}/conclude", {"outcome": "substantiated", "narrative": "The payment happened."}
    )
    assert missing_root_cause.status_code == 422 and "root cause" in missing_root_cause.text
    concluded = await officer.post(
        f"/staff/cases/{reference}/conclude",
        {
            "outcome": "substantiated",
            "narrative": "The payment happened.",
            "root_cause": "inadequate_controls",
            "root_cause_explanation": "No approval of agent fees.",
        },
    )
    assert concluded.status_code == 303
    assert (await officer.post(f"/staff/cases/{reference}/close", CLOSE_INVESTIGATED)).status_code == 303
    final = (await officer.get(f"/staff/cases/{reference}")).text
    assert "closed" in final and "No approval of agent fees." in final
    assert (await reporter.open(receipt)).text.count("Closed") >= 1

    await close_the_day(installed.ctx)
    async with installed.ctx.sessions() as session:
        actions = (await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id))).all()
        assert (await audit.verify(session)).ok
    for expected in [
        "report.filed",
        "login",
        "case.viewed",
        "status.changed",
        "message.sent",
        "note.added",
        "identity.revealed",
        "attachment.downloaded",
        "grant.added",
        "case.assigned",
        "finding.recorded",
    ]:
        assert expected in actions, expected


async def test_steps_out_of_order_are_refused(client, browsers, installed):
    await Reporter(client).file()
    reference = await only_reference(installed)
    officer = await browsers(installed.compliance_officer)
    for step in ("investigate",):  # closing before a finding is allowed (tests/test_lifecycle.py)
        response = await officer.post(f"/staff/cases/{reference}/{step}")
        assert response.status_code == 409
    conclude = await officer.post(f"/staff/cases/{reference}/conclude", {"outcome": "unsubstantiated", "narrative": "n"})
    assert conclude.status_code == 409
    await officer.post(f"/staff/cases/{reference}/acknowledge")
    again = await officer.post(f"/staff/cases/{reference}/acknowledge")
    assert again.status_code == 409 and "acknowledged already" in again.text


async def test_reassigning_moves_the_grant_between_investigators(client, browsers, installed):
    ctx = installed.ctx
    async with ctx.sessions() as session:
        from cases.accounts import create_staff

        second = await create_staff(session, ctx, email="second@example.test", role="investigator", password="x" * 14)
    await Reporter(client).file()
    reference = await only_reference(installed)
    officer = await browsers(installed.compliance_officer)
    await officer.post(f"/staff/cases/{reference}/assign", {"assignee": installed.investigator.id})
    await officer.post(f"/staff/cases/{reference}/assign", {"assignee": second.id})
    async with ctx.sessions() as session:
        holders = set((await session.scalars(select(Grant.staff_id).where(Grant.holder == "staff"))).all())
    assert holders == {installed.compliance_officer.id, second.id}


async def test_recusing_drops_the_grant_but_never_the_last_one(client, browsers, installed):
    await Reporter(client).file()
    reference = await only_reference(installed)
    officer = await browsers(installed.compliance_officer)
    alone = await officer.post(f"/staff/cases/{reference}/recuse", {"confirm": "yes"})
    assert alone.status_code == 422 and "only one holding" in alone.text
    await officer.post(f"/staff/cases/{reference}/assign", {"assignee": installed.investigator.id})
    investigator = await browsers(installed.investigator)
    assert (await investigator.post(f"/staff/cases/{reference}/recuse", {"confirm": "yes"})).status_code == 303
    assert (await investigator.get(f"/staff/cases/{reference}")).status_code == 404


async def test_leadership_case_cannot_be_assigned_to_the_compliance_officer(client, browsers, installed):
    await Reporter(client).file({"concerns_leadership": "yes"})
    reference = await only_reference(installed)
    committee = await browsers(installed.audit_committee)
    response = await committee.post(f"/staff/cases/{reference}/assign", {"assignee": installed.compliance_officer.id})
    assert response.status_code == 422
    officer = await browsers(installed.compliance_officer)
    assert reference not in (await officer.get("/staff/")).text
    assert (await officer.get(f"/staff/cases/{reference}")).status_code == 404


async def test_hand_over_moves_a_leavers_open_cases_in_one_step(client, browsers, installed):
    ctx = installed.ctx
    async with ctx.sessions() as session:
        from cases.accounts import create_staff

        successor = await create_staff(session, ctx, email="successor@example.test", role="investigator", password="x" * 14)
    reporter = Reporter(client)
    for _ in range(3):
        await reporter.file()
    officer = await browsers(installed.compliance_officer)
    async with ctx.sessions() as session:
        references = sorted((await session.scalars(select(Case.reference))).all())
    for reference in references:
        await officer.post(f"/staff/cases/{reference}/assign", {"assignee": installed.investigator.id})
    response = await officer.post(
        "/staff/team", {"leaver": installed.investigator.id, "successor": successor.id, "confirm": "yes"}
    )
    assert response.status_code == 303  # post/redirect/get
    assert "Handed over 3 case(s)" in (await officer.get(response.headers["location"])).text
    async with ctx.sessions() as session:
        holders = (await session.scalars(select(Grant.staff_id).where(Grant.holder == "staff"))).all()
        assignees = set((await session.scalars(select(Case.assignee_id))).all())
    assert installed.investigator.id not in holders and holders.count(successor.id) == 3
    assert assignees == {successor.id}


async def test_case_list_filters_sorts_and_pages(client, browsers, installed, clock):
    ctx = installed.ctx
    from datetime import timedelta

    from cases.filing import file_report, parse_report

    today = clock().date()
    for days, category in [(1, "other"), (20, "third_party"), (3, "other")]:
        async with ctx.sessions() as session:
            await file_report(
                session,
                ctx,
                parse_report({"category": category, "summary": "s", "details": "d"}),
                [],
                today - timedelta(days=days),
            )
    officer = await browsers(installed.compliance_officer)
    overdue = (await officer.get("/staff/?overdue=1")).text
    assert overdue.count("/staff/cases/") == 1 and "overdue" in overdue
    by_category = (await officer.get("/staff/?category=other")).text
    assert by_category.count("/staff/cases/") == 2
    oldest_first = (await officer.get("/staff/?sort=received_asc")).text
    dates = re.findall(r"<td>(\d{4}-\d{2}-\d{2})</td>", oldest_first)
    assert dates == sorted(dates)
    assert (await officer.get("/staff/?flagged=1")).text.count("/staff/cases/") == 0
    second_page = (await officer.get("/staff/?per_page=2&page=2")).text
    assert "per_page=2&page=1" in second_page  # the link back keeps the page size
    assert second_page.count("/staff/cases/") == 1 and "Page 2 of 2" in second_page


async def test_retaliation_message_flags_the_case_in_the_list(client, browsers, installed):
    reporter = Reporter(client)
    receipt = await reporter.file()
    await reporter.write(receipt, "I was demoted.", retaliation=True)
    officer = await browsers(installed.compliance_officer)
    flagged = (await officer.get("/staff/?flagged=1")).text
    assert flagged.count("/staff/cases/") == 1 and "retaliation" in flagged


async def test_hostile_attachment_names_are_served_safely(client, browsers, installed):
    name = '../../etc/passwd\r\nX-Evil: 1\u202egpj.exe";.pdf'
    await Reporter(client).file(files=[("attachments", (name, b"data", "text/html"))])
    reference = await only_reference(installed)
    officer = await browsers(installed.compliance_officer)
    page = (await officer.get(f"/staff/cases/{reference}")).text
    file_id = re.search(rf"/staff/cases/{reference}/attachments/(\d+)", page).group(1)
    response = await officer.get(f"/staff/cases/{reference}/attachments/{file_id}")
    disposition = response.headers["content-disposition"]
    assert "\r" not in disposition and "\n" not in disposition and "/" not in disposition.split("filename*")[0]
    assert "x-evil" not in response.headers
    assert response.headers["content-type"] == "application/octet-stream"
    assert "\u202e" not in page


async def test_audit_verify_names_the_first_altered_row(client, browsers, installed):
    await Reporter(client).file()
    reference = await only_reference(installed)
    officer = await browsers(installed.compliance_officer)
    await officer.post(f"/staff/cases/{reference}/acknowledge")
    await officer.get(f"/staff/cases/{reference}")
    ctx = installed.ctx
    async with ctx.sessions() as session:
        result = await audit.verify(session)
        entries = (await session.scalars(select(AuditEntry.id).order_by(AuditEntry.id))).all()
    assert result.ok and result.entries == len(entries) >= 4
    target = entries[2]
    async with ctx.sessions() as session, session.begin():
        await session.execute(update(AuditEntry).where(AuditEntry.id == target).values(detail="nothing to see"))
    async with ctx.sessions() as session:
        broken = await audit.verify(session)
    assert not broken.ok and broken.first_bad == target


@pytest.mark.parametrize("tamper", ["delete_middle", "delete_last", "swap"])
async def test_audit_verify_notices_removed_and_reordered_rows(client, browsers, installed, tamper):
    await Reporter(client).file()
    await browsers(installed.compliance_officer)
    ctx = installed.ctx
    async with ctx.sessions() as session:
        entries = (await session.execute(select(AuditEntry.id, AuditEntry.action).order_by(AuditEntry.id))).all()
    async with ctx.sessions() as session, session.begin():
        if tamper == "delete_middle":
            await session.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": entries[1].id})
        elif tamper == "delete_last":
            await session.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": entries[-1].id})
        else:  # reorder: two different entries trade places, hashes and all
            first, second = next((a, b) for a, b in zip(entries, entries[1:]) if a.action != b.action)
            rows = {e.id: e for e in await session.scalars(select(AuditEntry).where(AuditEntry.id.in_([first.id, second.id])))}
            values = {
                i: {k: getattr(rows[i], k) for k in ("at", "actor_id", "action", "case_id", "detail", "entry_hash")} for i in rows
            }
            await session.execute(update(AuditEntry).where(AuditEntry.id == first.id).values(**values[second.id]))
            await session.execute(update(AuditEntry).where(AuditEntry.id == second.id).values(**values[first.id]))
    async with ctx.sessions() as session:
        assert not (await audit.verify(session)).ok


async def test_audit_log_page_for_admins_and_the_committee_only(client, browsers, installed):
    await Reporter(client).file()
    await close_the_day(installed.ctx)
    committee = await browsers(installed.audit_committee)
    page = await committee.get("/staff/audit?verify=1")
    assert page.status_code == 200 and "intact" in page.text and "report.filed" in page.text
    officer = await browsers(installed.compliance_officer)
    assert (await officer.get("/staff/audit")).status_code == 403


async def test_a_files_link_counts_the_cases_own_files_not_every_file_ever_filed(client, browsers, installed):
    """A global file id in the URL would let a reader count, in its gaps, the files of cases hidden from them."""
    reporter = Reporter(client)
    receipts = [
        await reporter.file(files=[("attachments", (name, b"evidence " + name.encode(), "text/plain"))])
        for name in ("first.txt", "second.txt")
    ]
    officer = await browsers(installed.compliance_officer)
    references = [(await case_for(installed.ctx, receipt)).reference for receipt in receipts]
    for reference, name in zip(references, ("first.txt", "second.txt"), strict=True):
        page = (await officer.get(f"/staff/cases/{reference}")).text
        assert re.findall(rf"/staff/cases/{reference}/attachments/(\d+)", page) == ["1"]
        download = await officer.get(f"/staff/cases/{reference}/attachments/1")
        assert download.content == b"evidence " + name.encode()
        assert (await officer.get(f"/staff/cases/{reference}/attachments/2")).status_code == 404
