"""A case exported as a PDF for counsel or a regulator (cases/export.py), read back with pypdf."""

import io
import re

from pypdf import PdfReader
from sqlalchemy import select

from cases.accounts import create_staff
from cases.models import AuditEntry
from tests.conftest import STAFF_PASSWORD, Reporter, case_for, mailbox_form
from tests.test_lifecycle import IN_SCOPE

SEE_OTHER = 303
NAME = "Identity Canary Okonkwo"
SUMMARY = "Kickbacks in São Paulo — Zoë 北京"
DETAILS = "The agent paid the inspector to clear the shipment. " * 120  # long enough for several pages
REASON = "Outside counsel must interview the reporter as a witness"


def text_of(pdf: bytes) -> list[str]:
    """Each page's text, as a reader's copy-and-paste would give it."""
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


async def worked_case(client, installed, browsers) -> str:
    """A confidential report with a whole history: messages, a reply, a note, confirmed minutes, a finding."""
    reporter = Reporter(client)
    receipt = await reporter.file(
        {"summary": SUMMARY, "details": DETAILS, "anonymity": "confidential", "name": NAME, "contact": "+41 79 000 00 00"}
    )
    reference = (await case_for(installed.ctx, receipt)).reference
    officer = await browsers(installed.compliance_officer)
    today = installed.ctx.today().isoformat()
    for step, form in (
        ("acknowledge", None),
        ("reply", {"body": "Which shipment was it?"}),
        ("note", {"body": "Check the customs ledger for March."}),
        ("minutes", {"kind": "call", "held_on": today, "text": "You said the agent paid 5,000 USD in cash."}),
        ("assess", IN_SCOPE),
        ("investigate", None),
    ):
        assert (await officer.post(f"/staff/cases/{reference}/{step}", form)).status_code == SEE_OTHER, step
    await reporter.write(receipt, "It was the shipment of 14 March.")
    page = await reporter.open(receipt)
    confirmed = await client.post("/follow-up/minutes", data={"number": "1", "answer": "confirmed", **mailbox_form(page.text)})
    assert confirmed.status_code == SEE_OTHER
    concluded = await officer.post(
        f"/staff/cases/{reference}/conclude",
        {
            "outcome": "substantiated",
            "narrative": "The ledger shows the payment.",
            "root_cause": "third_party_due_diligence",
            "root_cause_explanation": "The agent was never vetted.",
        },
    )
    assert concluded.status_code == SEE_OTHER
    return reference


async def test_the_export_holds_the_case_and_every_page_names_who_exported_it(client, installed, browsers):
    reference = await worked_case(client, installed, browsers)
    officer = await browsers(installed.compliance_officer)
    response = await officer.get(f"/staff/cases/{reference}/export.pdf")
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;") and re.search(rf'filename="case-{reference}-\d{{8}}-\d{{4}}\.pdf"', disposition)
    pages = text_of(response.content)
    assert len(pages) >= 2
    stamp = re.compile(
        rf"exported by {re.escape(installed.compliance_officer.email)} on \d{{4}}-\d{{2}}-\d{{2}} \d{{2}}:\d{{2}} UTC"
    )
    assert all(stamp.search(page) for page in pages), "a page without who exported it and when"
    text = "\n".join(pages)
    # Outside the built-in fonts' characters: replaced, not a crash, and the file says so.
    assert "Kickbacks in São Paulo — Zoë ??" in text and "2 character(s)" in text
    for expected in (
        "The agent paid the inspector",
        "Which shipment was it?",  # a reply
        "Check the customs ledger for March.",  # a note
        "It was the shipment of 14 March.",  # the reporter's message
        "You said the agent paid 5,000 USD in cash.",  # minutes
        "Confirmed by the reporter",
        "Substantiated",
        "The ledger shows the payment.",
        "Third-party due diligence",
        "In scope: to be investigated",
        "Audit trail",
        "Status changed from received to acknowledged",
    ):
        assert expected in text, expected
    assert NAME not in text and "Not included in this export." in text
    async with installed.ctx.sessions() as session:
        logged = (
            await session.execute(select(AuditEntry.action, AuditEntry.detail).where(AuditEntry.action.like("%.exported")))
        ).all()
        reveals = await session.scalar(select(AuditEntry.id).where(AuditEntry.action == "identity.revealed"))
    assert logged == [("case.exported", "without identity")] and reveals is None


async def test_the_identity_is_in_an_export_only_when_revealed_for_it_with_a_reason(client, installed, browsers):
    reference = await worked_case(client, installed, browsers)
    officer = await browsers(installed.compliance_officer)
    path = f"/staff/cases/{reference}/export.pdf"
    for reason in ("", "counsel"):  # no reason, or not a few words: the case page says why, nothing is logged
        refused = await officer.post(path, {"export_reason": reason})
        assert refused.status_code == 422 and "why this export needs the reporter" in refused.text
        assert NAME not in refused.text
    response = await officer.post(path, {"export_reason": REASON})
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    pages = text_of(response.content)
    assert NAME in "\n".join(pages) and all("with the reporter's identity" in page for page in pages)
    async with installed.ctx.sessions() as session:
        logged = (
            await session.execute(
                select(AuditEntry.action, AuditEntry.detail, AuditEntry.actor_id).where(
                    AuditEntry.action.in_(["identity.revealed", "case.exported"])
                )
            )
        ).all()
    officer_id = installed.compliance_officer.id
    assert logged == [("identity.revealed", "", officer_id), ("case.exported", "with identity", officer_id)]
    # The reason is kept as a sealed note on the case, as every reveal's is.
    assert REASON in (await officer.get(f"/staff/cases/{reference}")).text


async def test_an_investigator_exports_a_case_they_hold_but_never_with_the_identity(client, installed, browsers):
    reference = await worked_case(client, installed, browsers)
    officer = await browsers(installed.compliance_officer)
    await officer.post(f"/staff/cases/{reference}/assign", {"assignee": installed.investigator.id})
    investigator = await browsers(installed.investigator)
    plain = await investigator.get(f"/staff/cases/{reference}/export.pdf")
    assert plain.status_code == 200 and NAME not in "\n".join(text_of(plain.content))
    refused = await investigator.post(f"/staff/cases/{reference}/export.pdf", {"export_reason": REASON})
    assert refused.status_code == 403 and NAME not in refused.text


async def test_who_does_not_hold_the_case_gets_nothing(client, installed, browsers):
    reference = await worked_case(client, installed, browsers)
    async with installed.ctx.sessions() as session:
        admin = await create_staff(session, installed.ctx, email="admin@example.test", role="admin", password=STAFF_PASSWORD)
    committee, investigator = await browsers(installed.audit_committee), await browsers(installed.investigator)
    for browser in (committee, investigator):  # no grant: not found, either way
        assert (await browser.get(f"/staff/cases/{reference}/export.pdf")).status_code == 404
    assert (await committee.post(f"/staff/cases/{reference}/export.pdf", {"export_reason": REASON})).status_code == 404
    assert (await (await browsers(admin)).get(f"/staff/cases/{reference}/export.pdf")).status_code == 403
    async with installed.ctx.sessions() as session:
        logged = await session.scalar(select(AuditEntry.id).where(AuditEntry.action.in_(["case.exported", "identity.revealed"])))
    assert logged is None
