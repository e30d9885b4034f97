"""Passing the reporter's identity outside the team (EU Art. 16): the basis recorded, the reporter told."""

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from cases.models import AuditEntry, Disclosure
from tests.conftest import case_for

RECIPIENT = "Fiscalia Anticorrupcion RecipientCanary41"
EXPLANATION = "We must give your name to the prosecutor investigating this payment; they asked for it in writing."


async def confidential_case(reporter, installed) -> tuple[str, str]:
    receipt = await reporter.file({"anonymity": "confidential", "name": "Ana Example", "contact": "+1 555 0100"})
    return receipt, (await case_for(installed.ctx, receipt)).reference


def disclosure_form(**fields) -> dict:
    return {"recipient": RECIPIENT, "basis": "authority_investigation", "explanation": EXPLANATION, **fields}


async def test_disclosure_is_recorded_and_the_reporter_told(reporter, browsers, installed, settings):
    receipt, reference = await confidential_case(reporter, installed)
    officer = await browsers(installed.compliance_officer)

    answer = await officer.post(f"/staff/cases/{reference}/disclose", disclosure_form())
    assert answer.status_code == 303

    page = (await officer.get(f"/staff/cases/{reference}")).text
    assert RECIPIENT in page and "An investigation by a national authority" in page and "the reporter was told" in page
    assert EXPLANATION in (await reporter.open(receipt)).text
    async with installed.ctx.sessions() as session:
        entry = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "identity.disclosed"))).one()
        assert entry.detail == "authority_investigation; reporter told"  # the basis, never the recipient
        assert (await session.scalars(select(Disclosure.reporter_told))).one() is True
    if settings.database_url.startswith("sqlite"):
        database = Path(make_url(settings.database_url).database).read_bytes()
        assert b"RecipientCanary41" not in database


async def test_the_reporter_goes_untold_only_where_the_law_allows(reporter, browsers, installed):
    receipt, reference = await confidential_case(reporter, installed)
    officer = await browsers(installed.compliance_officer)

    refused = await officer.post(f"/staff/cases/{reference}/disclose", disclosure_form(basis="consent", withhold="yes"))
    assert refused.status_code == 422 and "Only an authority" in refused.text
    silent = await officer.post(
        f"/staff/cases/{reference}/disclose", disclosure_form(basis="judicial_proceedings", withhold="yes", explanation="")
    )
    assert silent.status_code == 303
    assert "Fiscalia" not in (await reporter.open(receipt)).text
    page = (await officer.get(f"/staff/cases/{reference}")).text
    assert "the reporter was not told" in page and "would jeopardise the investigation" in page


async def test_an_anonymous_report_has_no_identity_to_pass_on(reporter, browsers, installed):
    receipt = await reporter.file()
    reference = (await case_for(installed.ctx, receipt)).reference
    officer = await browsers(installed.compliance_officer)
    refused = await officer.post(f"/staff/cases/{reference}/disclose", disclosure_form())
    assert refused.status_code == 422 and "gave no name" in refused.text
    async with installed.ctx.sessions() as session:
        assert (await session.scalars(select(Disclosure))).all() == []


@pytest.mark.parametrize("role", ["investigator", "audit_committee"])
async def test_only_a_managing_holder_discloses(reporter, browsers, installed, role):
    receipt, reference = await confidential_case(reporter, installed)
    officer = await browsers(installed.compliance_officer)
    assert (await officer.post(f"/staff/cases/{reference}/assign", {"assignee": installed.investigator.id})).status_code == 303
    other = await browsers(getattr(installed, role))
    answer = await other.post(f"/staff/cases/{reference}/disclose", disclosure_form())
    # The investigator holds the case but may not; the Committee member does not hold it.
    assert answer.status_code == (403 if role == "investigator" else 404)
    async with installed.ctx.sessions() as session:
        assert (await session.scalars(select(Disclosure))).all() == []
