"""The reporter's side of the case lifecycle: forms that redirect (a reload repeats nothing), the
sealed session cookie that carries the receipt's keys between pages, the words that follow the
routing, warnings before sending, a closed case, minutes confirmed or corrected, and the channel."""

import logging
from datetime import timedelta

import pytest
from nacl.public import PrivateKey
from sqlalchemy import select, update

from cases.models import Attachment, AuditEntry, Base, Case, Message, Minutes, ReporterEvent, RetaliationFlag
from cases.reporter_session import ReporterKeys, Session, seal_receipt, seal_session
from crypto.receipts import normalise
from tests.conftest import RECEIPT, case_for, close_the_day, count_rows, mailbox_form

pytestmark = pytest.mark.usefixtures("installed")

NO_FILE = [("attachments", ("", b"", "application/octet-stream"))]
MAILBOX = "__Host-speakup-mailbox"  # the test app runs with secure cookies, as production does


async def _rows(installed, *models) -> tuple[int, ...]:
    return tuple([await count_rows(installed.ctx, model) for model in models])


async def _every_value(ctx) -> list:
    values = []
    async with ctx.sessions() as session:
        for table in Base.metadata.sorted_tables:
            values += [tuple(row) for row in (await session.execute(select(table))).all()]
    return values


async def _send(reporter, data: dict, files=None):
    """The message form, posted from the mailbox page the browser shows now."""
    page = await reporter.client.get("/follow-up")
    fields = {**mailbox_form(page.text), **data}
    return await reporter.client.post("/follow-up/messages", data=fields, files=files or NO_FILE)


# Post/redirect/get.


async def test_reloading_the_page_after_a_message_files_nothing_again(reporter, installed):
    receipt = await reporter.file()
    await reporter.open(receipt)
    sent = await _send(
        reporter,
        {"body": "They moved me to the night shift.", "retaliation": "yes"},
        [("attachments", ("memo.txt", b"memo", "text/plain"))],
    )
    assert sent.status_code == 303 and sent.headers["location"] == "/follow-up"
    page = await reporter.follow(sent)
    assert "Your message was sent." in page.text and "They moved me to the night shift." in page.text
    counted = await _rows(installed, Message, RetaliationFlag, Attachment)
    assert counted == (1, 1, 1)
    for _ in range(3):  # reload, reload, reload
        again = await reporter.client.get("/follow-up")
        assert again.status_code == 200 and "They moved me" in again.text
        assert "Your message was sent." not in again.text  # said once
    assert await _rows(installed, Message, RetaliationFlag, Attachment) == counted


async def test_the_same_message_sent_again_from_the_back_button_is_not_filed_twice(reporter, installed):
    """The browser's Back button shows the form as it was sent; Send again posts it a second time.
    The session remembers (in the cookie, not on the server) what was sent last: not twice."""
    receipt = await reporter.file()
    await reporter.open(receipt)
    form = {"body": "I was demoted.", "retaliation": "yes"}
    page = await reporter.client.get("/follow-up")
    data = {**form, **mailbox_form(page.text)}
    first = await reporter.client.post("/follow-up/messages", data=data, files=NO_FILE)
    await reporter.follow(first)
    replayed = await reporter.client.post("/follow-up/messages", data=data, files=NO_FILE)
    assert replayed.status_code == 303
    assert "it was not sent a second time" in (await reporter.follow(replayed)).text
    assert await _rows(installed, Message, RetaliationFlag) == (1, 1)
    # A different message is a new message.
    assert (await reporter.follow(await _send(reporter, {"body": "And moved."}))).status_code == 200
    assert await count_rows(installed.ctx, Message) == 2
    # After Leave, a replay opens nothing and files nothing: the receipt form, the text to copy.
    await reporter.client.post("/follow-up/leave", data={"csrf_token": data["csrf_token"]})
    after = await reporter.client.post("/follow-up/messages", data=data, files=NO_FILE)
    assert after.status_code == 200 and 'name="receipt"' in after.text and "I was demoted." in after.text
    assert await _rows(installed, Message, RetaliationFlag) == (2, 1)


async def test_a_failed_form_sent_again_repeats_nothing(reporter, installed):
    receipt = await reporter.file()
    await reporter.open(receipt)
    page = await reporter.client.get("/follow-up")
    data = {"body": "   ", **mailbox_form(page.text)}
    for _ in range(2):
        refused = await reporter.client.post("/follow-up/messages", data=data, files=NO_FILE)
        assert refused.status_code == 422 and "Write a message or attach a file." in refused.text
    assert await count_rows(installed.ctx, Message) == 0


async def test_the_receipt_never_goes_in_a_url_and_the_mailbox_runs_no_argon2id(reporter, installed, monkeypatch):
    receipt = await reporter.file()
    token = await reporter.token("/follow-up")
    opened = await reporter.client.post("/follow-up", data={"receipt": receipt, "csrf_token": token})
    assert opened.status_code == 303 and opened.headers["location"] == "/follow-up"
    cookie = opened.headers["set-cookie"]
    # A session cookie: no expiry (it dies with the browser), whole site, script- and cross-site-proof.
    assert cookie.startswith(MAILBOX + "=")
    assert all(part in cookie for part in ("HttpOnly", "Path=/", "SameSite=strict", "Secure"))
    assert "expires" not in cookie.lower() and "max-age" not in cookie.lower()
    assert normalise(receipt) not in cookie.upper().replace("-", "")
    derivations = []
    real = installed.ctx.kdf.receipt
    monkeypatch.setattr(installed.ctx.kdf, "receipt", lambda *a, **k: derivations.append(1) or real(*a, **k))
    page = await reporter.client.get("/follow-up")
    assert page.status_code == 200 and "Cash to a customs inspector" in page.text
    sent = await reporter.follow(await _send(reporter, {"body": "More."}))
    assert "More." in sent.text
    assert derivations == []  # the session's keys, no Argon2id
    for shown in (page.text, sent.text):
        assert receipt not in shown and not RECEIPT.search(shown)  # not even in a hidden field


async def test_a_session_lasts_30_minutes_after_the_last_page(reporter, clock):
    receipt = await reporter.file()
    await reporter.open(receipt)
    for _ in range(3):  # each page renews it
        clock.advance(minutes=25)
        assert "Cash to a customs inspector" in (await reporter.client.get("/follow-up")).text
    clock.advance(minutes=31)
    expired = await reporter.client.get("/follow-up")
    assert expired.status_code == 200 and 'name="receipt"' in expired.text
    assert "Cash to a customs inspector" not in expired.text


async def test_a_session_ends_2_hours_after_the_receipt_was_entered_however_it_is_used(reporter, clock):
    """A copied cookie cannot be kept alive for ever by fetching a page every 29 minutes."""
    receipt = await reporter.file()
    await reporter.open(receipt)
    for _ in range(4):  # 1 h 40 min of pages
        clock.advance(minutes=25)
        assert "Cash to a customs inspector" in (await reporter.client.get("/follow-up")).text
    clock.advance(minutes=15)  # 1 h 55 min
    assert "Cash to a customs inspector" in (await reporter.client.get("/follow-up")).text
    clock.advance(minutes=6)  # 2 h 1 min: over, though the last page was 6 minutes ago
    assert 'name="receipt"' in (await reporter.client.get("/follow-up")).text
    await reporter.open(receipt)  # the receipt starts a new one
    assert "Cash to a customs inspector" in (await reporter.client.get("/follow-up")).text


def _tampered(token: str) -> str:
    middle = len(token) // 2
    return token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]


@pytest.mark.parametrize("kind", ["tampered", "other-installation", "receipt-cookie", "garbage"])
async def test_a_bad_session_cookie_gives_the_receipt_form_and_nothing_else(reporter, installed, kind):
    receipt = await reporter.file()
    await reporter.open(receipt)
    token = reporter.client.cookies[MAILBOX]
    now = installed.ctx.now()
    forged = {
        "tampered": _tampered(token),
        # Sealed right, with keys that would open the case, under another installation's key.
        "other-installation": seal_session(
            bytes(range(32)), Session(ReporterKeys(b"\0" * 32, PrivateKey.generate(), b"\0" * 16)), now
        ),
        # A cookie of this installation, of the other kind: a receipt is no session.
        "receipt-cookie": seal_receipt((await installed.ctx.installation()).session_key, receipt, now),
        "garbage": "not-a-cookie%%%" * 10,
    }[kind]
    csrf = await reporter.token("/report")
    reporter.client.cookies.set(MAILBOX, forged, domain="speakup.test", path="/")
    for answer in (
        await reporter.client.get("/follow-up"),
        await reporter.client.post("/follow-up/messages", data={"body": "x", "csrf_token": csrf}, files=NO_FILE),
    ):
        assert answer.status_code == 200 and 'name="receipt"' in answer.text
        assert "Cash to a customs inspector" not in answer.text and "problem" not in answer.text
    assert await count_rows(installed.ctx, Message) == 0


async def test_leave_ends_the_session(reporter):
    receipt = await reporter.file()
    page = await reporter.open(receipt)
    left = await reporter.client.post("/follow-up/leave", data={**mailbox_form(page.text)})
    assert left.status_code == 303 and MAILBOX not in reporter.client.cookies
    assert 'name="receipt"' in (await reporter.client.get("/follow-up")).text


async def test_opening_and_reading_the_mailbox_store_nothing(reporter, installed, clock):
    """The session lives in the cookie only: no row, and no time, is written for it."""
    receipt = await reporter.file()
    await close_the_day(installed.ctx)
    before = await _every_value(installed.ctx)
    await reporter.open(receipt)
    clock.advance(minutes=10)
    await reporter.client.get("/follow-up")
    await reporter.client.post("/follow-up/leave", data={"csrf_token": await reporter.token("/follow-up")})
    assert await _every_value(installed.ctx) == before


# Words follow the routing.


async def test_a_report_to_the_audit_committee_only_names_the_audit_committee(reporter, installed, browsers):
    receipt = await reporter.file({"concerns_leadership": "yes"})
    case = await case_for(installed.ctx, receipt)
    assert case.routing == "audit_committee"
    committee = await browsers(installed.audit_committee)
    assert (await committee.post(f"/staff/cases/{case.reference}/reply", {"body": "Who else knew?"})).status_code == 303
    page = (await reporter.open(receipt)).text
    assert "<strong>Audit Committee</strong>" in page and "Write to the Audit Committee" in page
    assert "This alerts the Audit Committee at once" in page
    assert "Compliance team" not in page and "Compliance Officer" not in page


async def test_an_ordinary_report_names_the_compliance_team(reporter, installed, browsers):
    receipt = await reporter.file()
    reference = (await case_for(installed.ctx, receipt)).reference
    officer = await browsers(installed.compliance_officer)
    await officer.post(f"/staff/cases/{reference}/reply", {"body": "Who approved it?"})
    page = (await reporter.open(receipt)).text
    assert "<strong>Compliance team</strong>" in page and "Write to the Compliance team" in page
    assert "This alerts the Compliance Officer and the Audit Committee at once" in page


# Warnings before sending.


async def test_a_report_of_a_few_characters_is_sent_only_when_the_reporter_says_so(reporter, installed):
    warned = await reporter.submit({"summary": "Kept summary 5e2a", "details": "Bribe at customs."})
    assert warned.status_code == 422
    assert "Only 17 characters" in warned.text and 'name="send_anyway"' in warned.text
    assert "Kept summary 5e2a" in warned.text and "Bribe at customs." in warned.text
    assert await count_rows(installed.ctx, Case) == 0
    sent = await reporter.submit({"summary": "Kept summary 5e2a", "details": "Bribe at customs.", "send_anyway": "yes"})
    assert sent.status_code == 303 and RECEIPT.search((await reporter.follow(sent)).text)
    assert await count_rows(installed.ctx, Case) == 1
    # A details text that says what happened goes straight through.
    assert (await reporter.submit()).status_code == 303
    assert await count_rows(installed.ctx, Case) == 2


@pytest.mark.parametrize(
    "pasted",
    [
        lambda r: r,
        lambda r: r.lower().replace("-", " "),
        lambda r: f"my code:{r.replace('-', '')}.",
        lambda r: r.replace("1", "l").replace("0", "o"),
    ],
    ids=["as-shown", "lower-spaced", "glued", "look-alikes"],
)
async def test_a_message_holding_the_receipt_asks_before_it_is_sent(reporter, installed, client, caplog, pasted):
    receipt = await reporter.file()
    await reporter.open(receipt)
    body = f"Here is more. {pasted(receipt)} Thanks."
    with caplog.at_level(logging.DEBUG):
        warned = await _send(reporter, {"body": body, "retaliation": "yes"})
    assert warned.status_code == 422
    assert "Your message contains your receipt" in warned.text and 'name="send_anyway"' in warned.text
    assert body in warned.text and 'name="retaliation" value="yes" checked' in warned.text  # all kept
    assert await count_rows(installed.ctx, Message) == 0
    assert normalise(receipt) not in caplog.text.upper().replace("-", "")
    sent = await _send(reporter, {"body": body, "send_anyway": "yes"})
    assert sent.status_code == 303 and await count_rows(installed.ctx, Message) == 1
    # Another receipt, or none, is no warning.
    assert (await _send(reporter, {"body": "My colleague's was 7KQ4-M2XD-9PZA-HN3F."})).status_code == 303


# A closed case.


async def test_a_closed_case_says_so_and_on_which_day(reporter, installed):
    receipt = await reporter.file()
    case = await case_for(installed.ctx, receipt)
    page = (await reporter.open(receipt)).text
    assert "Feedback due by" in page and "Closed on" not in page
    closed_on, given_on = case.received_on + timedelta(days=20), case.received_on + timedelta(days=15)
    async with installed.ctx.sessions() as session, session.begin():
        await session.execute(
            update(Case)
            .where(Case.id == case.id)
            .values(status="closed", closure="out_of_scope", closed_on=closed_on, acknowledged_on=case.received_on)
        )
    page = (await reporter.client.get("/follow-up")).text
    assert f"<dt>Closed on</dt><dd>{closed_on.isoformat()}</dd>" in page
    assert f"This report was closed on {closed_on.isoformat()}" in page
    assert "Feedback due by" not in page and "Feedback given on" not in page
    async with installed.ctx.sessions() as session, session.begin():
        await session.execute(update(Case).where(Case.id == case.id).values(feedback_given_on=given_on))
    page = (await reporter.client.get("/follow-up")).text
    assert f"<dt>Feedback given on</dt><dd>{given_on.isoformat()}</dd>" in page and "Feedback due by" not in page
    api = (await reporter.client.post("/api/v1/follow-up", json={"receipt": receipt})).json()
    assert (api["status"], api["closed_on"], api["feedback_given_on"]) == ("closed", closed_on.isoformat(), given_on.isoformat())


# Minutes (EU Art. 18(2)-(4)).


async def _minutes(browser, reference: str, text: str, held_on, kind: str = "call"):
    return await browser.post(f"/staff/cases/{reference}/minutes", {"kind": kind, "held_on": held_on.isoformat(), "text": text})


async def test_minutes_are_confirmed_or_corrected_by_the_reporter_and_seen_by_staff(reporter, installed, browsers):
    receipt = await reporter.file()
    case = await case_for(installed.ctx, receipt)
    officer = await browsers(installed.compliance_officer)
    today = installed.ctx.today()
    assert (await _minutes(officer, case.reference, "You said the agent paid 5,000 USD.", today)).status_code == 303
    assert (await _minutes(officer, case.reference, "You said it happened in May.", today, "meeting")).status_code == 303
    page = await reporter.open(receipt)
    assert "Telephone call, " + today.isoformat() in page.text and "You said it happened in May." in page.text
    form = mailbox_form(page.text)
    confirmed = await reporter.client.post("/follow-up/minutes", data={"number": "1", "answer": "confirmed", **form})
    assert confirmed.status_code == 303 and "your answer to the minutes is kept" in (await reporter.follow(confirmed)).text
    corrected = await reporter.client.post(
        "/follow-up/minutes", data={"number": "2", "answer": "corrected", "correction": "It was in June.", **form}
    )
    page = await reporter.follow(corrected)
    assert f"You confirmed these minutes on {today.isoformat()}" in page.text and "It was in June." in page.text
    # Answered once: sent again (a replay), nothing changes.
    again = await reporter.client.post(
        "/follow-up/minutes", data={"number": "1", "answer": "corrected", "correction": "No.", **form}
    )
    assert again.status_code == 422 and "answered already" in again.text
    async with installed.ctx.sessions() as session:
        rows = (await session.scalars(select(Minutes).order_by(Minutes.number))).all()
    assert [(m.answer, m.answered_on) for m in rows] == [("confirmed", today), ("corrected", today)]
    assert rows[0].correction_box is None
    staff_page = (await officer.get(f"/staff/cases/{case.reference}")).text
    assert "Confirmed by the reporter</strong> on " + today.isoformat() in staff_page
    assert "Corrected by the reporter" in staff_page and "It was in June." in staff_page
    assert "You said the agent paid 5,000 USD." in staff_page
    # A reporter's answers go to the audit log with their day only; the staff's step, with no content.
    await close_the_day(installed.ctx)
    async with installed.ctx.sessions() as session:
        entries = (await session.scalars(select(AuditEntry).where(AuditEntry.action.like("minutes.%")))).all()
        assert not (await session.scalars(select(ReporterEvent))).all()
    assert sorted(e.action for e in entries) == ["minutes.confirmed", "minutes.corrected", "minutes.recorded", "minutes.recorded"]
    assert all("June" not in e.detail and "USD" not in e.detail for e in entries)
    assert all(e.at.time().isoformat() == "00:00:00" for e in entries if e.action != "minutes.recorded")


async def test_a_confirmation_with_a_correction_typed_is_refused_with_the_text_kept(reporter, installed, browsers):
    receipt = await reporter.file()
    reference = (await case_for(installed.ctx, receipt)).reference
    await _minutes(await browsers(installed.compliance_officer), reference, "Minutes text.", installed.ctx.today())
    page = await reporter.open(receipt)
    refused = await reporter.client.post(
        "/follow-up/minutes",
        data={"number": "1", "answer": "confirmed", "correction": "Kept 9c1f", **mailbox_form(page.text)},
    )
    assert refused.status_code == 422 and "You wrote a correction" in refused.text and "Kept 9c1f" in refused.text
    async with installed.ctx.sessions() as session:
        assert await session.scalar(select(Minutes.answer)) is None


async def test_an_investigator_records_minutes_on_a_case_they_hold_only(reporter, installed, browsers):
    held = (await case_for(installed.ctx, await reporter.file())).reference
    other = (await case_for(installed.ctx, await reporter.file())).reference
    officer = await browsers(installed.compliance_officer)
    assert (await officer.post(f"/staff/cases/{held}/assign", {"assignee": installed.investigator.id})).status_code == 303
    investigator = await browsers(installed.investigator)
    today = installed.ctx.today()
    assert (await _minutes(investigator, held, "Interview notes.", today)).status_code == 303
    assert (await _minutes(investigator, other, "Interview notes.", today)).status_code == 404
    assert await count_rows(installed.ctx, Minutes) == 1
    # Bad input comes back on the case page with the text kept; nothing stored.
    refused = await _minutes(investigator, held, "Kept minutes 4d2b", today + timedelta(days=1))
    assert refused.status_code == 422 and "has taken place" in refused.text and "Kept minutes 4d2b" in refused.text
    assert await count_rows(installed.ctx, Minutes) == 1


async def test_a_closed_case_takes_no_more_minutes(reporter, installed, browsers):
    case = await case_for(installed.ctx, await reporter.file())
    async with installed.ctx.sessions() as session, session.begin():
        await session.execute(
            update(Case).where(Case.id == case.id).values(status="closed", closure="withdrawn", closed_on=case.received_on)
        )
    officer = await browsers(installed.compliance_officer)
    assert (await _minutes(officer, case.reference, "Too late.", installed.ctx.today())).status_code == 409
    assert await count_rows(installed.ctx, Minutes) == 0


async def test_minutes_and_corrections_are_not_readable_in_the_database(reporter, installed, browsers):
    receipt = await reporter.file()
    reference = (await case_for(installed.ctx, receipt)).reference
    await _minutes(await browsers(installed.compliance_officer), reference, "CANARYminutes81f3", installed.ctx.today())
    page = await reporter.open(receipt)
    await reporter.client.post(
        "/follow-up/minutes",
        data={"number": "1", "answer": "corrected", "correction": "CANARYcorrection27b9", **mailbox_form(page.text)},
    )
    stored = repr(await _every_value(installed.ctx))
    assert await count_rows(installed.ctx, Minutes) == 1
    assert "CANARYminutes81f3" not in stored and "CANARYcorrection27b9" not in stored
    assert "CANARYcorrection27b9" in (await reporter.client.get("/follow-up")).text  # the reporter reads it back


async def test_the_api_reads_and_answers_minutes(client, installed, browsers):
    receipt = (await client.post("/api/v1/reports", json={"category": "other", "summary": "s", "details": "d"})).json()["receipt"]
    reference = (await case_for(installed.ctx, receipt)).reference
    await _minutes(await browsers(installed.compliance_officer), reference, "What you told us.", installed.ctx.today(), "video")
    [minutes] = (await client.post("/api/v1/follow-up", json={"receipt": receipt})).json()["minutes"]
    assert (minutes["number"], minutes["kind"], minutes["text"], minutes["answer"]) == (1, "video", "What you told us.", None)
    bad = await client.post("/api/v1/follow-up/minutes", json={"receipt": receipt, "minutes": 1, "answer": "corrected"})
    assert (bad.status_code, bad.json()["error"]) == (422, "invalid_input") and "correction" in bad.json()["fields"]
    body = {"receipt": receipt, "minutes": 1, "answer": "corrected", "correction": "Not quite."}
    assert (await client.post("/api/v1/follow-up/minutes", json=body)).status_code == 201
    assert (await client.post("/api/v1/follow-up/minutes", json=body)).status_code == 422  # answered once
    [minutes] = (await client.post("/api/v1/follow-up", json={"receipt": receipt})).json()["minutes"]
    assert (minutes["answer"], minutes["correction"]) == ("corrected", "Not quite.")


# The channel a report came in by.


async def test_the_api_records_the_channel_and_staff_see_it(client, reporter, installed, browsers):
    phoned = await client.post(
        "/api/v1/reports", json={"category": "other", "summary": "By phone", "details": "d", "channel": "phone"}
    )
    assert phoned.status_code == 201
    unknown = await client.post("/api/v1/reports", json={"category": "other", "summary": "s", "details": "d", "channel": "fax"})
    assert (unknown.status_code, list(unknown.json()["fields"])) == (422, ["channel"])
    default = await client.post("/api/v1/reports", json={"category": "other", "summary": "s", "details": "d"})
    web = await reporter.file({"channel": "letter"})  # the web form files "web", whatever it is sent
    channels = [(await case_for(installed.ctx, r)).channel for r in (phoned.json()["receipt"], default.json()["receipt"], web)]
    assert channels == ["phone", "web", "web"]
    officer = await browsers(installed.compliance_officer)
    reference = (await case_for(installed.ctx, phoned.json()["receipt"])).reference
    assert "<dt>Channel</dt><dd>Hotline phone</dd>" in (await officer.get(f"/staff/cases/{reference}")).text


async def test_a_page_left_open_for_one_report_sends_nothing_into_another(reporter, installed):
    """Two receipts opened in two tabs of one browser share its cookie: the form of the first tab's
    page must not file into the report the second tab opened since."""
    first = await reporter.file()
    second = await reporter.file({"summary": "The CFO takes kickbacks", "concerns_leadership": "yes"})
    first_page = await reporter.open(first)  # tab 1
    await reporter.open(second)  # tab 2: the cookie now holds the second report
    data = {"body": "Meant for the first report only.", **mailbox_form(first_page.text)}
    refused = await reporter.client.post("/follow-up/messages", data=data, files=NO_FILE)
    assert refused.status_code == 422 and "belonged to another report" in refused.text
    assert "Meant for the first report only." in refused.text  # kept, to be sent where it belongs
    assert await count_rows(installed.ctx, Message) == 0
    answer = {"check_in": "1", "answer": "yes", **mailbox_form(first_page.text)}
    assert (await reporter.client.post("/follow-up/check-in", data=answer)).status_code == 422
    minutes = {"number": "1", "answer": "confirmed", **mailbox_form(first_page.text)}
    assert (await reporter.client.post("/follow-up/minutes", data=minutes)).status_code == 422
