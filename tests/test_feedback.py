"""Findings coded by root cause, the reply marked as the feedback (EU Art. 9(1)(f)), and staff replies with files."""

import re
from datetime import timedelta

from sqlalchemy import func, select, update

from cases.follow_up import read_mailbox
from cases.models import AuditEntry, Case, Finding, OutboxMail
from cases.notifications import reminders
from tests.conftest import Reporter, case_for, csrf_from
from tests.test_remediation import FINDING, SEE_OTHER, assert_nowhere_in_plain, under_investigation


async def test_a_substantiated_finding_needs_a_coded_root_cause_which_is_counted(client, browsers, installed):
    officer = await browsers(installed.compliance_officer)
    reference = await under_investigation(client, officer, installed)
    path = f"/staff/cases/{reference}/conclude"
    uncoded = await officer.post(path, {**FINDING, "root_cause": ""})
    assert uncoded.status_code == 422 and "needs its root cause" in uncoded.text
    unknown = await officer.post(path, {**FINDING, "root_cause": "bad_luck"})
    assert unknown.status_code == 422 and "from the list" in unknown.text
    unexplained = await officer.post(path, {**FINDING, "root_cause_explanation": " "})
    assert unexplained.status_code == 422 and "Explain the root cause" in unexplained.text
    assert 'value="inadequate_controls"' in (await officer.get(f"/staff/cases/{reference}")).text  # the form offers the codes

    assert (await officer.post(path, FINDING)).status_code == SEE_OTHER
    page = (await officer.get(f"/staff/cases/{reference}")).text
    assert "Inadequate controls" in page and FINDING["root_cause_explanation"] in page

    # Another case, found not substantiated: no code needed.
    other = await under_investigation(client, officer, installed)
    plain = {"outcome": "unsubstantiated", "narrative": "The fees were proper."}
    assert (await officer.post(f"/staff/cases/{other}/conclude", plain)).status_code == SEE_OTHER
    async with installed.ctx.sessions() as session:
        counted = dict((await session.execute(select(Finding.root_cause, func.count()).group_by(Finding.root_cause))).all())
    assert counted == {"inadequate_controls": 1, None: 1}


async def feedback_overdue_case(client, officer, installed, clock) -> tuple[str, str]:
    """An acknowledged case past its feedback date: its receipt and reference."""
    receipt = await Reporter(client).file()
    reference = (await case_for(installed.ctx, receipt)).reference
    assert (await officer.post(f"/staff/cases/{reference}/acknowledge")).status_code == SEE_OTHER
    async with installed.ctx.sessions() as session, session.begin():
        await session.execute(
            update(Case).where(Case.reference == reference).values(feedback_by=clock().date() - timedelta(days=1))
        )
    return receipt, reference


async def test_a_reply_marked_as_the_feedback_meets_the_deadline_and_keeps_its_date(client, browsers, installed, clock):
    officer = await browsers(installed.compliance_officer)
    receipt, reference = await feedback_overdue_case(client, officer, installed, clock)
    _, untouched = await feedback_overdue_case(client, officer, installed, clock)
    overdue = (await officer.get("/staff/?overdue=1")).text
    assert reference in overdue and untouched in overdue

    ordinary = await officer.post(f"/staff/cases/{reference}/reply", {"body": "We are looking into it."})
    assert ordinary.status_code == SEE_OTHER
    assert reference in (await officer.get("/staff/?overdue=1")).text  # a reply is not the feedback by itself

    given_on = clock().date()
    feedback = {"body": "We found the payments and changed the approval of agent fees.", "feedback": "yes"}
    assert (await officer.post(f"/staff/cases/{reference}/reply", feedback)).status_code == SEE_OTHER
    overdue = (await officer.get("/staff/?overdue=1")).text
    assert reference not in overdue and untouched in overdue
    page = (await officer.get(f"/staff/cases/{reference}")).text
    assert f"Feedback given on</dt><dd>{given_on.isoformat()}" in page

    clock.advance(days=3)  # a later feedback keeps the first date: that is when the deadline was met
    officer = await browsers(installed.compliance_officer)
    assert (await officer.post(f"/staff/cases/{reference}/reply", feedback)).status_code == SEE_OTHER
    marked = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "feedback.given")
    marked = marked.where(AuditEntry.case_id == await case_id(installed, reference))
    async with installed.ctx.sessions() as session:
        assert await session.scalar(select(Case.feedback_given_on).where(Case.reference == reference)) == given_on
        assert await session.scalar(marked) == 2  # each marked reply is logged; the first date stands
    async with installed.ctx.sessions() as session:
        mailbox = await read_mailbox(session, installed.ctx, receipt)
    assert mailbox.feedback_given_on == given_on  # for the reporter's page

    ctx = installed.ctx
    async with ctx.sessions() as session, session.begin():
        await reminders(session, ctx.settings, clock().date(), clock())
    async with ctx.sessions() as session:
        reminded = (await session.scalars(select(OutboxMail.dedupe_key).where(OutboxMail.kind == "feedback_overdue"))).all()
    reminded_cases = {key.split(":")[1] for key in reminded}
    assert reminded_cases == {str(await case_id(installed, untouched))}  # not the case that got its feedback


async def case_id(installed, reference: str) -> int:
    async with installed.ctx.sessions() as session:
        return await session.scalar(select(Case.id).where(Case.reference == reference))


async def test_a_staff_reply_carries_files_sealed_like_the_reporters(client, browsers, installed):
    officer = await browsers(installed.compliance_officer)
    receipt = await Reporter(client).file()
    reference = (await case_for(installed.ctx, receipt)).reference
    canaries = {"name": "CanaryPlanName7e21", "data": "CanaryPlanData3f90", "body": "CanaryReply11ab"}
    data = (canaries["data"] + "\n").encode() * 40
    page = (await officer.get(f"/staff/cases/{reference}")).text
    assert 'enctype="multipart/form-data"' in page
    sent = await officer.client.post(
        f"/staff/cases/{reference}/reply",
        data={"body": canaries["body"], "csrf_token": csrf_from(page)},
        files=[("attachments", (canaries["name"] + ".txt", data, "text/plain"))],
    )
    assert sent.status_code == SEE_OTHER

    page = (await officer.get(f"/staff/cases/{reference}")).text
    number = re.search(rf"/staff/cases/{reference}/attachments/(\d+)\">{canaries['name']}", page).group(1)
    download = await officer.get(f"/staff/cases/{reference}/attachments/{number}")
    assert download.status_code == 200 and download.content == data
    follow_up = (await Reporter(client).open(receipt)).text
    assert canaries["name"] + ".txt" in follow_up and canaries["body"] in follow_up  # name and size, no download
    await assert_nowhere_in_plain(installed.ctx, canaries.values())


async def test_a_staff_reply_keeps_to_the_reporters_file_limits(client, browsers, installed):
    officer = await browsers(installed.compliance_officer)
    reference = (await case_for(installed.ctx, await Reporter(client).file())).reference
    path = f"/staff/cases/{reference}/reply"

    async def reply(files):
        page = (await officer.get(f"/staff/cases/{reference}")).text
        return await officer.client.post(path, data={"body": "See the files", "csrf_token": csrf_from(page)}, files=files)

    settings = installed.ctx.settings
    too_many = [("attachments", (f"f{i}.txt", b"x", "text/plain")) for i in range(settings.max_attachments + 1)]
    answer = await reply(too_many)
    assert answer.status_code == 413 and f"At most {settings.max_attachments} files" in answer.text
    too_large = await reply(
        [("attachments", ("big.bin", b"x" * (settings.max_attachment_bytes + 1), "application/octet-stream"))]
    )
    assert too_large.status_code == 413 and "big.bin" in too_large.text
    no_token = await officer.client.post(path, data={"body": "x"}, files=[("attachments", ("a.txt", b"a", "text/plain"))])
    assert no_token.status_code == 403
    # Every other staff form stays file-less: a note with a file is not read at all.
    page = (await officer.get(f"/staff/cases/{reference}")).text
    note = await officer.client.post(
        f"/staff/cases/{reference}/note",
        data={"body": "note", "csrf_token": csrf_from(page)},
        files=[("attachments", ("a.txt", b"a", "text/plain"))],
    )
    assert note.status_code == 400
    async with installed.ctx.sessions() as session:
        case = await session.scalar(select(Case).where(Case.reference == reference))
        assert case.feedback_given_on is None
