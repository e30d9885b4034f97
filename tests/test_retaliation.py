"""Retaliation protection: flags from reporters, HR matches and check-ins, worked to resolution."""

import re
from datetime import date, timedelta

import httpx
import pytest
from sqlalchemy import event, func, select

from cases.models import Case, CheckIn, ProtectedPerson, RetaliationFlag
from cases.retaliation import deliver_check_ins
from tests.conftest import Reporter, count_rows, mailbox_form
from tests.test_lifecycle import CLOSE_INVESTIGATED, IN_SCOPE

HR_TOKEN = {"authorization": "Bearer test-hr-token-0f9e"}


async def only_case(installed) -> Case:
    async with installed.ctx.sessions() as session:
        return (await session.scalars(select(Case))).one()


async def flags(installed) -> list[RetaliationFlag]:
    async with installed.ctx.sessions() as session:
        return list(
            (await session.scalars(select(RetaliationFlag).order_by(RetaliationFlag.case_id, RetaliationFlag.number))).all()
        )


async def test_a_retaliation_message_opens_a_flag_for_officer_and_committee(client, browsers, installed, clock):
    reporter = Reporter(client)
    receipt = await reporter.file()
    await reporter.write(receipt, "I was moved to the night shift after my report.", retaliation=True)
    [flag] = await flags(installed)
    assert (flag.source, flag.status) == ("reporter", "open")
    assert flag.respond_by == flag.opened_on + timedelta(days=7)
    reference = (await only_case(installed)).reference
    officer = await browsers(installed.compliance_officer)
    committee = await browsers(installed.audit_committee)
    assert reference in (await officer.get("/staff/flags")).text
    assert reference in (await committee.get("/staff/flags")).text  # the Committee sees every flag


async def test_a_flag_is_worked_from_open_to_resolved_with_a_record(client, browsers, installed):
    reporter = Reporter(client)
    receipt = await reporter.file()
    await reporter.write(receipt, "Demoted.", retaliation=True)
    [flag] = await flags(installed)
    reference = (await only_case(installed)).reference
    officer = await browsers(installed.compliance_officer)
    assert (await officer.post(f"/staff/cases/{reference}/flags/1", {"step": "review"})).status_code == 303
    empty = await officer.post(
        f"/staff/cases/{reference}/flags/1", {"step": "resolve", "resolution": "remedy", "record": "", "confirm": "yes"}
    )
    assert empty.status_code == 422 and "Record the grounds" in empty.text
    done = await officer.post(
        f"/staff/cases/{reference}/flags/1",
        {"step": "resolve", "resolution": "remedy", "record": "Demotion reversed, back pay paid.", "confirm": "yes"},
    )
    assert done.status_code == 303
    [flag] = await flags(installed)
    assert (flag.status, flag.resolution) == ("resolved", "remedy")
    assert b"back pay" not in flag.resolution_box  # sealed
    case = await only_case(installed)
    assert case.retaliation_flag is False  # no open flag left
    assert "Demotion reversed, back pay paid." in (await officer.get(f"/staff/cases/{case.reference}")).text


async def test_only_the_steps_table_decides_who_works_a_flag_and_when(client, browsers, installed):
    """An investigator holding the case sees its flag but may not work it: no form, and 403 if
    they post one; a resolved flag cannot be resolved again (409, and the record stands)."""
    reporter = Reporter(client)
    receipt = await reporter.file()
    await reporter.write(receipt, "Moved to the night shift.", retaliation=True)
    reference = (await only_case(installed)).reference
    officer = await browsers(installed.compliance_officer)
    assert (await officer.post(f"/staff/cases/{reference}/assign", {"assignee": installed.investigator.id})).status_code == 303
    investigator = await browsers(installed.investigator)
    listing = (await investigator.get("/staff/flags")).text
    assert reference in listing and "Take under review" not in listing and "Resolve" not in listing
    for step in ("review", "resolve"):
        posted = {"step": step, "resolution": "remedy", "record": "I decide this myself.", "confirm": "yes"}
        assert (await investigator.post(f"/staff/cases/{reference}/flags/1", posted)).status_code == 403
    assert "Take under review" in (await officer.get("/staff/flags")).text
    record = {"step": "resolve", "resolution": "remedy", "record": "Shift restored from Monday.", "confirm": "yes"}
    assert (await officer.post(f"/staff/cases/{reference}/flags/1", record)).status_code == 303
    again = {"step": "resolve", "resolution": "justified_grounds", "record": "Overwriting the record.", "confirm": "yes"}
    assert (await officer.post(f"/staff/cases/{reference}/flags/1", again)).status_code == 409
    assert (await officer.post(f"/staff/cases/{reference}/flags/1", {"step": "review"})).status_code == 409
    [flag] = await flags(installed)
    assert flag.resolution == "remedy"


async def protect(officer, reference, employee_id="E-1001", role="reporter"):
    response = await officer.post(
        f"/staff/cases/{reference}/protect", {"employee_id": employee_id, "name": "Pat Protected", "role": role}
    )
    assert response.status_code == 303


async def test_hr_import_flags_a_protected_person_inside_the_window_only(client, browsers, installed):
    await Reporter(client).file()
    case = await only_case(installed)
    officer = await browsers(installed.compliance_officer)
    await protect(officer, case.reference)
    async with installed.ctx.sessions() as session:
        person = await session.scalar(select(ProtectedPerson))
    assert b"E-1001" not in person.employee_hash and b"Pat" not in person.name_box

    inside = (case.received_on + timedelta(days=40)).isoformat()
    after_window = (case.received_on + timedelta(days=800)).isoformat()
    before_report = (case.received_on - timedelta(days=1)).isoformat()
    rows = [
        {"employee_id": " e-1001 ", "action": "demotion", "date": inside},  # hit
        {"employee_id": "E-1001", "action": "pay_hours", "date": after_window},  # outside the 24 months
        {"employee_id": "E-1001", "action": "transfer", "date": before_report},  # before the report
        {"employee_id": "E-2002", "action": "demotion", "date": inside},  # someone else
    ]
    response = await client.post("/api/v1/hr/adverse-actions", json={"actions": rows}, headers=HR_TOKEN)
    assert response.status_code == 200
    assert response.json() == {"checked": 4}  # never says what matched
    [flag] = await flags(installed)
    assert (flag.source, flag.form, flag.action_on.isoformat()) == ("hr_match", "demotion", inside)
    # The same file again opens nothing new; unmatched rows were never stored.
    await client.post("/api/v1/hr/adverse-actions", json={"actions": rows}, headers=HR_TOKEN)
    assert len(await flags(installed)) == 1
    assert await count_rows(installed.ctx, ProtectedPerson) == 1
    page = (await officer.get("/staff/flags")).text
    assert case.reference in page and "Demotion or withheld promotion" in page


async def test_the_hr_api_answers_before_it_matches_so_a_hit_costs_hr_no_time(app, client, browsers, installed):
    """HR timed its requests: rows that matched a protected person answered 1-2 s slower. The answer
    now goes out once the batch is read and checked, before any row is matched, hit or not."""
    await Reporter(client).file()
    case = await only_case(installed)
    await protect(await browsers(installed.compliance_officer), case.reference)
    timeline: list[str] = []

    def on_sql(connection, cursor, statement, parameters, context, executemany):
        if "protected_persons" in statement:
            timeline.append("match")

    async def recorder(scope, receive, send):
        async def recording_send(message):
            if message["type"] == "http.response.start":
                timeline.append("answer")
            await send(message)

        await app(scope, receive, recording_send)

    day = (case.received_on + timedelta(days=40)).isoformat()
    answers = []
    event.listen(installed.ctx.engine.sync_engine, "before_cursor_execute", on_sql)
    try:
        transport = httpx.ASGITransport(app=recorder)
        async with httpx.AsyncClient(transport=transport, base_url="https://speakup.test") as hr:
            for employee in ("E-1001", "E-9999"):  # a hit, then nobody
                timeline.clear()
                rows = [{"employee_id": employee, "action": "demotion", "date": day}]
                response = await hr.post("/api/v1/hr/adverse-actions", json={"actions": rows}, headers=HR_TOKEN)
                answers.append((response.status_code, response.json()))
                assert timeline[0] == "answer" and "match" in timeline, timeline
    finally:
        event.remove(installed.ctx.engine.sync_engine, "before_cursor_execute", on_sql)
    assert answers[0] == answers[1] == (200, {"checked": 1})
    assert len(await flags(installed)) == 1  # the hit was still found, after the answer


@pytest.mark.parametrize(
    ("headers", "body", "status", "code"),
    [
        ({}, {"actions": []}, 401, "unauthorized"),
        ({"authorization": "Bearer wrong"}, {"actions": []}, 401, "unauthorized"),
        (HR_TOKEN, {"actions": [{"employee_id": "E", "action": "fired", "date": "2026-01-01"}]}, 422, "invalid_input"),
        (HR_TOKEN, {"actions": [{"employee_id": "E", "action": "demotion", "date": "yesterday"}]}, 422, "invalid_input"),
        (HR_TOKEN, {"rows": []}, 422, "invalid_input"),
    ],
)
@pytest.mark.backend_agnostic
async def test_hr_api_refuses_bad_tokens_and_rows(client, installed, headers, body, status, code):
    response = await client.post("/api/v1/hr/adverse-actions", json=body, headers=headers)
    assert (response.status_code, response.json()["error"]) == (status, code)


async def test_hr_import_from_the_cli(client, browsers, installed, monkeypatch, tmp_path, settings, capsys):
    import asyncio

    import cli

    await Reporter(client).file()
    case = await only_case(installed)
    officer = await browsers(installed.compliance_officer)
    await protect(officer, case.reference, "E-77", role="witness")
    csv_file = tmp_path / "hr.csv"
    csv_file.write_text(
        f"employee_id,action,date\nE-77,negative_appraisal,{case.received_on.isoformat()}\nE-78,demotion,2026-01-01\n"
    )
    for name, value in {"SPEAKUP_DATABASE_URL": settings.database_url, "SPEAKUP_HR_MATCH_KEY": bytes(range(32)).hex()}.items():
        monkeypatch.setenv(name, value)
    await asyncio.to_thread(cli.main, ["hr", "import", str(csv_file)])
    assert "2 adverse action(s) checked" in capsys.readouterr().out
    [flag] = await flags(installed)
    assert flag.form == "negative_appraisal"
    csv_file.write_text("employee,what\nE-77,x\n")
    with pytest.raises(SystemExit, match="needs the columns"):
        await asyncio.to_thread(cli.main, ["hr", "import", str(csv_file)])


async def closed_case(client, browsers, installed) -> tuple[Reporter, str]:
    """A report taken through to closure by the Compliance Officer; its reporter and receipt."""
    reporter = Reporter(client)
    receipt = await reporter.file()
    reference = (await only_case(installed)).reference
    officer = await browsers(installed.compliance_officer)
    for step, form in (("acknowledge", None), ("assess", IN_SCOPE), ("investigate", None)):
        await officer.post(f"/staff/cases/{reference}/{step}", form)
    await officer.post(f"/staff/cases/{reference}/conclude", {"outcome": "unsubstantiated", "narrative": "Nothing found."})
    assert (await officer.post(f"/staff/cases/{reference}/close", CLOSE_INVESTIGATED)).status_code == 303
    return reporter, receipt


async def test_check_ins_are_delivered_once_and_a_yes_opens_a_flag(client, browsers, installed, clock):
    reporter, receipt = await closed_case(client, browsers, installed)
    ctx = installed.ctx
    closed_on = (await only_case(installed)).closed_on

    async def deliver(on: date) -> int:
        async with ctx.sessions() as session:
            return await deliver_check_ins(session, ctx, on)

    assert await deliver(closed_on + timedelta(days=29)) == 0
    assert await deliver(closed_on + timedelta(days=95)) == 1  # 30 and 90 are both due: one question
    assert await deliver(closed_on + timedelta(days=96)) == 0  # delivered once
    async with ctx.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(CheckIn)) == 2
    page = (await reporter.open(receipt)).text
    assert "Have you faced retaliation?" in page and "days since your report was closed" in page
    check_in = int(re.search(r'name="check_in" value="(\d+)"', page).group(1))
    answered = await reporter.follow(
        await client.post("/follow-up/check-in", data={"check_in": check_in, "answer": "yes", **mailbox_form(page)})
    )
    assert answered.status_code == 200 and "Thank you for answering." in answered.text
    assert "Have you faced retaliation?" not in answered.text
    [flag] = await flags(installed)
    assert flag.source == "check_in"
    again = await client.post("/api/v1/follow-up/check-ins", json={"receipt": receipt, "check_in": check_in, "retaliation": True})
    assert again.status_code == 422  # answered already
    assert len(await flags(installed)) == 1
    assert await deliver(closed_on + timedelta(days=200)) == 1  # the 180-day question


async def test_the_staff_thread_labels_a_check_in_as_from_the_system(client, browsers, installed):
    _, receipt = await closed_case(client, browsers, installed)
    case = await only_case(installed)
    async with installed.ctx.sessions() as session:
        await deliver_check_ins(session, installed.ctx, case.closed_on + timedelta(days=31))
    officer = await browsers(installed.compliance_officer)
    page = (await officer.get(f"/staff/cases/{case.reference}")).text
    entry = re.search(r'<li class="message from-system">\s*<p class="meta"><strong>([^<]*)</strong>', page)
    assert entry is not None and entry.group(1) == "Check-in from the system"


async def test_a_no_to_a_check_in_opens_nothing(client, browsers, installed):
    _, receipt = await closed_case(client, browsers, installed)
    async with installed.ctx.sessions() as session:
        await deliver_check_ins(session, installed.ctx, (await only_case(installed)).closed_on + timedelta(days=31))
    body = (await client.post("/api/v1/follow-up", json={"receipt": receipt})).json()
    [pending] = body["check_ins"]
    response = await client.post(
        "/api/v1/follow-up/check-ins", json={"receipt": receipt, "check_in": pending["id"], "retaliation": False}
    )
    assert response.status_code == 201
    assert await flags(installed) == []
    assert (await client.post("/api/v1/follow-up", json={"receipt": receipt})).json()["check_ins"] == []


async def test_protected_persons_need_the_match_key(client, browsers, installed):
    from dataclasses import replace

    installed.ctx.settings = replace(installed.ctx.settings, hr_match_key=None)
    await Reporter(client).file()
    officer = await browsers(installed.compliance_officer)
    response = await officer.post(
        f"/staff/cases/{(await only_case(installed)).reference}/protect", {"employee_id": "E-1", "name": "n", "role": "witness"}
    )
    assert response.status_code == 503 and "SPEAKUP_HR_MATCH_KEY" in response.text


async def test_a_flag_is_numbered_within_its_case_not_by_every_flag_ever_raised(client, browsers, installed):
    """A global flag id on the flags page would let an officer count, in its gaps, the flags of cases hidden from them."""
    for summary in ("First", "Second"):
        reporter = Reporter(client)
        receipt = await reporter.file({"summary": summary})
        await reporter.write(receipt, "They moved me.", retaliation=True)
    officer = await browsers(installed.compliance_officer)
    page = (await officer.get("/staff/flags")).text
    assert sorted(re.findall(r'action="/staff/cases/[^/]+/flags/(\d+)"', page)) == ["1", "1", "1", "1"]  # review, resolve
