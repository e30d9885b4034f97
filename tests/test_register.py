"""The Audit Committee's register of every complaint (cases/register.py): plain metadata of every
case, content only with a grant, filters, keyset paging, the CSV, and asking for an escalation."""

import asyncio
import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from cases.accounts import create_staff
from cases.models import AuditEntry, ListEntry, OutboxMail
from cases.outbox import send_due
from tests.conftest import STAFF_PASSWORD, Reporter, StaffBrowser, case_for, new_app
from tests.test_lifecycle import assessment

CANARY = "RegisterCanary5b2e"
SEE_OTHER = 303


async def filed(client, installed, **fields) -> str:
    receipt = await Reporter(client).file({"summary": CANARY, "details": CANARY + " details of the payment.", **fields})
    return (await case_for(installed.ctx, receipt)).reference


def rows(page: str) -> dict[str, str]:
    """The register's rows by reference: each row's HTML."""
    found = {}
    for row in re.findall(r"<tr>(.*?)</tr>", page, re.S):
        reference = re.search(r'class="reference">(?:<a [^>]*>)?([^<]+)<', row)
        if reference:
            found[reference.group(1)] = row
    return found


async def test_the_committee_sees_every_case_with_its_codes_and_never_its_content(client, installed, browsers):
    reference = await filed(client, installed)
    officer = await browsers(installed.compliance_officer)
    await officer.post(f"/staff/cases/{reference}/acknowledge")
    await officer.post(f"/staff/cases/{reference}/assess", assessment(installed.ctx.clock))
    committee = await browsers(installed.audit_committee)
    assert (await committee.get(f"/staff/cases/{reference}")).status_code == 404  # no grant: no content
    page = await committee.get("/staff/complaints")
    assert page.status_code == 200
    row = rows(page.text)[reference]
    assert "Bribery of a foreign official" in row and "Web form" in row and "acknowledged" in row
    assert "In scope: to be investigated" in row and "High priority" in row and "met" in row
    assert f'href="/staff/cases/{reference}"' not in page.text  # it links only where the member holds the case
    assert CANARY not in page.text
    export = await committee.get("/staff/complaints.csv")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    [line] = list(csv.DictReader(io.StringIO(export.text)))
    assert line["reference"] == reference and line["admissibility"] == "In scope: to be investigated"
    assert line["acknowledgement"] == "met" and line["priority"] == "High"
    assert CANARY not in export.text
    async with installed.ctx.sessions() as session:
        logged = (
            await session.execute(
                select(AuditEntry.action, AuditEntry.detail).where(AuditEntry.actor_id == installed.audit_committee.id)
            )
        ).all()
    assert ("register.viewed", "all") in logged and ("export", "complaint register all, 1 rows") in logged


async def test_a_held_case_links_to_its_page(client, installed, browsers):
    reference = await filed(client, installed, concerns_leadership="yes")  # granted to the Committee
    committee = await browsers(installed.audit_committee)
    page = (await committee.get("/staff/complaints")).text
    assert f'href="/staff/cases/{reference}"' in page
    assert "Ask to escalate" not in rows(page)[reference]  # it is the Committee's already


@pytest.mark.parametrize("path", ["/staff/complaints", "/staff/complaints.csv"])
async def test_only_the_committee_opens_the_register(client, installed, browsers, path):
    await filed(client, installed)
    async with installed.ctx.sessions() as session:
        admin = await create_staff(session, installed.ctx, email="admin@example.test", role="admin", password=STAFF_PASSWORD)
    for staff in (installed.compliance_officer, installed.investigator, admin):
        response = await (await browsers(staff)).get(path)
        assert response.status_code == 403, staff.role
        assert CANARY not in response.text


async def test_a_case_that_implicates_a_member_stays_out_of_their_register(client, installed, browsers):
    ctx = installed.ctx
    async with ctx.sessions() as session:
        member = await create_staff(session, ctx, email="member2@example.test", role="audit_committee", password=STAFF_PASSWORD)
    hidden, shown = await filed(client, installed), await filed(client, installed)
    officer = await browsers(installed.compliance_officer)
    await officer.post(f"/staff/cases/{hidden}/escalate", {"reason": "concerns a member of the Committee"})
    committee = await browsers(installed.audit_committee)
    assert (await committee.post(f"/staff/cases/{hidden}/implicate", {"staff": member.id})).status_code == SEE_OTHER
    other = await browsers(member)
    page = (await other.get("/staff/complaints")).text
    assert shown in page and hidden not in page
    assert hidden not in (await other.get("/staff/complaints.csv")).text
    assert (await other.post(f"/staff/complaints/{hidden}/escalation")).status_code == 404
    assert hidden in (await committee.get("/staff/complaints")).text


async def test_filters_and_keyset_paging(client, installed, browsers, clock):
    oldest = await filed(client, installed, category="books_records")
    clock.advance(days=10)
    middle = await filed(client, installed)
    clock.advance(days=10)
    newest = await filed(client, installed, concerns_leadership="yes")
    reporter = Reporter(client)
    receipt = await reporter.file({"summary": CANARY})
    await reporter.write(receipt, "They moved me to another office.", retaliation=True)
    flagged = (await case_for(installed.ctx, receipt)).reference
    officer = await browsers(installed.compliance_officer)
    await officer.post(f"/staff/cases/{middle}/acknowledge")
    committee = await browsers(installed.audit_committee)

    async def shown(query: str) -> set[str]:
        page = await committee.get(f"/staff/complaints?{query}")
        assert page.status_code == 200
        return set(rows(page.text))

    everything = await shown("")
    assert everything == {oldest, middle, newest, flagged}
    assert await shown("category=books_records") == {oldest}
    assert await shown("status=acknowledged") == {middle}
    assert await shown("routing=audit_committee") == {newest}
    assert await shown("channel=letter") == set() and len(await shown("channel=web")) == 4
    assert await shown("flagged=1") == {flagged}
    today = clock().date()
    assert await shown(f"from={today - timedelta(days=15)}&to={today - timedelta(days=5)}") == {middle}
    # Overdue: the two unacknowledged older ones are past the 7 days (the newest and the flagged are not yet).
    assert await shown("overdue=1") == {oldest}
    assert await shown("status=nonsense&category=%3Cscript%3E") == everything  # unknown values are ignored

    first = await committee.get("/staff/complaints?per_page=2")
    assert set(rows(first.text)) == {flagged, newest}  # received the same day: by reference within it
    older = re.search(r'href="(/staff/complaints\?[^"]*after=[^"]+)">Older', first.text).group(1).replace("&amp;", "&")
    second = await committee.get(older)
    assert list(rows(second.text)) == [middle, oldest]
    assert "Older" not in second.text
    newer = re.search(r'href="(/staff/complaints\?[^"]*before=[^"]+)">Newer', second.text).group(1).replace("&amp;", "&")
    assert set(rows((await committee.get(newer)).text)) == set(rows(first.text))


async def test_the_csv_quotes_cells_a_spreadsheet_would_run(client, installed, browsers):
    async with installed.ctx.sessions() as session, session.begin():
        session.add(ListEntry(kind="business_unit", label='=HYPERLINK("http://evil.example","x")'))
        session.add(ListEntry(kind="country", label="@SUM(1+1)"))
    async with installed.ctx.sessions() as session:
        unit = await session.scalar(select(ListEntry.id).where(ListEntry.kind == "business_unit"))
        country = await session.scalar(select(ListEntry.id).where(ListEntry.kind == "country"))
    reference = await filed(client, installed)
    officer = await browsers(installed.compliance_officer)
    await officer.post(f"/staff/cases/{reference}/acknowledge")
    form = assessment(installed.ctx.clock, business_unit=str(unit), country=str(country))
    assert (await officer.post(f"/staff/cases/{reference}/assess", form)).status_code == SEE_OTHER
    committee = await browsers(installed.audit_committee)
    [line] = list(csv.DictReader(io.StringIO((await committee.get("/staff/complaints.csv")).text)))
    assert line["business_unit"] == '\'=HYPERLINK("http://evil.example","x")'
    assert line["country"] == "'@SUM(1+1)"


def test_both_registers_quote_with_the_one_function():
    from cases import discipline, register, spreadsheet

    assert discipline.write_csv is spreadsheet.write_csv is register.write_csv
    for dangerous in ("=1+1", "+1", "-1", "@A1", "\tx", "\rx"):
        assert spreadsheet.cell(dangerous) == "'" + dangerous
    assert spreadsheet.cell("2026-01-01") == "2026-01-01" and spreadsheet.cell(None) == ""


async def mails(installed, kind: str) -> list[OutboxMail]:
    async with installed.ctx.sessions() as session:
        return list((await session.scalars(select(OutboxMail).where(OutboxMail.kind == kind))).all())


async def test_asking_for_an_escalation_mails_the_officers_once_and_is_logged(client, installed, browsers, smtp, clock):
    from dataclasses import replace

    installed.ctx.settings = replace(installed.ctx.settings, mail_case_reference=True)
    reference = await filed(client, installed, anonymity="confidential", name=CANARY, contact=CANARY)
    leadership = await filed(client, installed, concerns_leadership="yes")
    clock.advance(hours=31)
    await send_due(installed.ctx, clock())  # the new-report mails, out of the way
    smtp.messages.clear()
    committee = await browsers(installed.audit_committee)
    asked = await committee.post(f"/staff/complaints/{reference}/escalation")
    assert asked.status_code == SEE_OTHER and asked.headers["location"] == "/staff/complaints?done=requested"
    page = (await committee.get(asked.headers["location"])).text
    assert "Escalation requested" in page and "escalation requested" in rows(page)[reference]
    again = await committee.post(f"/staff/complaints/{reference}/escalation")  # a second ask (or a reload)
    assert again.headers["location"] == "/staff/complaints?done=standing"
    await send_due(installed.ctx, clock())
    [(recipients, mail)] = smtp.messages
    assert recipients == [installed.compliance_officer.email]
    assert mail["Subject"] == "Speakup: the Audit Committee asks for a case to be escalated"
    assert reference in mail.get_content() and CANARY not in mail.as_string() and "Bribery" not in mail.as_string()
    async with installed.ctx.sessions() as session:
        entries = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "escalation.requested"))).all()
    assert [(e.actor_id, e.detail) for e in entries] == [(installed.audit_committee.id, "")]
    # The officer sees it on the case's timeline, and escalating answers it.
    officer = await browsers(installed.compliance_officer)
    assert "Escalation to the Audit Committee requested" in (await officer.get(f"/staff/cases/{reference}")).text
    await officer.post(f"/staff/cases/{reference}/escalate", {"reason": "as the Committee asked"})
    row = rows((await committee.get("/staff/complaints")).text)[reference]
    assert "escalated" in row and "escalation requested" not in row
    # A report that went to the Committee only is the Committee's already.
    refused = await committee.post(f"/staff/complaints/{leadership}/escalation")
    assert refused.status_code == 409 and "routed to the Compliance Officer" in refused.text


async def test_two_members_asking_at_the_same_moment_make_one_request(settings, app, client, installed, clock):
    """Two members on two workers (two apps, two pools), several cases: the case row lock makes one request of two."""
    ctx = installed.ctx
    async with ctx.sessions() as session:
        member = await create_staff(session, ctx, email="member2@example.test", role="audit_committee", password=STAFF_PASSWORD)
    references = [await filed(client, installed) for _ in range(4)]
    other_app = new_app(settings)
    other_app.state.ctx.clock = clock
    async with other_app.router.lifespan_context(other_app):
        one = StaffBrowser(app, clock, installed.audit_committee.email)
        two = StaffBrowser(other_app, clock, member.email)
        try:
            assert (await one.login()).status_code == SEE_OTHER and (await two.login()).status_code == SEE_OTHER
            for reference in references:
                path = f"/staff/complaints/{reference}/escalation"
                answers = await asyncio.gather(one.post(path), two.post(path))
                assert sorted(a.headers["location"].rsplit("=", 1)[1] for a in answers) == ["requested", "standing"]
        finally:
            await one.aclose()
            await two.aclose()
    async with ctx.sessions() as session:
        requests = await session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "escalation.requested")
        )
    assert requests == len(references)
    assert len(await mails(installed, "escalation_requested")) == len(references)
