"""Filing in cases/: routing, grants, references, deadlines."""

import re
from dataclasses import replace
from datetime import date

import pytest
from sqlalchemy import select, update

from cases.accounts import create_staff, unlock
from cases.filing import file_report, parse_report
from cases.models import Case, Grant, Staff
from crypto import CryptoError, boxes, keys
from tests.conftest import STAFF_PASSWORD, case_for

REPORT = {"category": "third_party", "summary": "Fake invoices", "details": "Invoices with no work behind them."}


async def file(installed, today=date(2026, 11, 23), **changes) -> str:
    ctx = installed.ctx
    async with ctx.sessions() as session:
        return await file_report(session, ctx, parse_report({**REPORT, **changes}), [], today)


async def filed_case(ctx, receipt: str) -> tuple[Case, list[Grant]]:
    case = await case_for(ctx, receipt)
    async with ctx.sessions() as session:
        case_grants = (await session.scalars(select(Grant).where(Grant.case_id == case.id))).all()
    return case, case_grants


async def read_as(installed, staff: Staff, case: Case, case_grants) -> dict:
    """Open a case the way staff will: password -> private key -> grant -> case key."""
    private = await unlock(installed.ctx, staff, STAFF_PASSWORD)
    assert private is not None
    [grant] = [g for g in case_grants if g.staff_id == staff.id]
    return boxes.unseal_json(keys.open_grant(grant.sealed_key, private), case.report_box)


def holders(case_grants, installed) -> set[str]:
    names = {
        installed.compliance_officer.id: "compliance_officer",
        installed.audit_committee.id: "audit_committee",
        installed.investigator.id: "investigator",
    }
    return {names.get(g.staff_id, g.holder) for g in case_grants}


async def test_ordinary_report_is_granted_to_the_compliance_officer(installed):
    receipt = await file(installed)
    case, case_grants = await filed_case(installed.ctx, receipt)
    assert case.routing == "compliance_officer"
    assert holders(case_grants, installed) == {"compliance_officer", "recovery", "reporter"}
    assert (await read_as(installed, installed.compliance_officer, case, case_grants))["summary"] == "Fake invoices"


@pytest.mark.parametrize("category", ["books_records", "internal_controls"])
async def test_accounting_reports_reach_the_audit_committee_too(installed, category):
    receipt = await file(installed, category=category)
    case, case_grants = await filed_case(installed.ctx, receipt)
    assert case.routing == "compliance_officer"
    assert holders(case_grants, installed) == {"compliance_officer", "audit_committee", "recovery", "reporter"}
    assert (await read_as(installed, installed.audit_committee, case, case_grants))["category"] == category


async def test_the_accounting_rule_is_a_setting(installed):
    # As with SPEAKUP_AUDIT_COMMITTEE_CATEGORIES="" in the environment.
    installed.ctx.settings = replace(installed.ctx.settings, audit_committee_categories=())
    receipt = await file(installed, category="books_records")
    _, case_grants = await filed_case(installed.ctx, receipt)
    assert "audit_committee" not in holders(case_grants, installed)


async def test_leadership_report_never_reaches_the_compliance_officer(installed):
    receipt = await file(installed, concerns_leadership=True)
    case, case_grants = await filed_case(installed.ctx, receipt)
    assert case.routing == "audit_committee"
    assert holders(case_grants, installed) == {"audit_committee", "recovery", "reporter"}
    assert (await read_as(installed, installed.audit_committee, case, case_grants))["details"]
    # The Compliance Officer's key opens none of the case's grants.
    private = await unlock(installed.ctx, installed.compliance_officer, STAFF_PASSWORD)
    for grant in case_grants:
        with pytest.raises(CryptoError):
            keys.open_grant(grant.sealed_key, private)


async def test_recovery_key_opens_every_case(installed):
    await file(installed)
    await file(installed, concerns_leadership=True)
    async with installed.ctx.sessions() as session:
        rows = (await session.execute(select(Case, Grant).join(Grant).where(Grant.holder == "recovery"))).all()
    assert len(rows) == 2
    for case, grant in rows:
        case_key = keys.open_grant(grant.sealed_key, installed.recovery_key)
        assert boxes.unseal_json(case_key, case.report_box)["category"] == "third_party"


async def test_disabled_staff_get_no_grant(installed):
    ctx = installed.ctx
    async with ctx.sessions() as session, session.begin():
        await session.execute(update(Staff).where(Staff.id == installed.compliance_officer.id).values(active=False))
    async with ctx.sessions() as session:
        second = await create_staff(session, ctx, email="co2@example.test", role="compliance_officer", password=STAFF_PASSWORD)
    receipt = await file(installed)
    _, case_grants = await filed_case(ctx, receipt)
    assert {g.staff_id for g in case_grants if g.holder == "staff"} == {second.id}


async def test_references_tell_nothing_of_the_reports_before_them(installed):
    """Sequential references let a Compliance Officer count, and date, the leadership reports filed
    about them in the gaps of their list. References are the year and random symbols."""
    receipts = [await file(installed) for _ in range(12)] + [await file(installed, today=date(2027, 1, 2))]
    references = [(await case_for(installed.ctx, receipt)).reference for receipt in receipts]
    assert len(set(references)) == 13
    assert all(re.fullmatch(r"2026-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}", r) for r in references[:12])
    assert references[12].startswith("2027-")
    assert references[:12] != sorted(references[:12])  # filing order is not reference order (1 in 12! by chance)


async def test_deadlines_are_stored_with_the_case(installed):
    receipt = await file(installed, today=date(2026, 11, 23))
    case, _ = await filed_case(installed.ctx, receipt)
    assert (case.received_on, case.acknowledge_by, case.feedback_by) == (
        date(2026, 11, 23),
        date(2026, 11, 30),
        date(2027, 2, 28),
    )


async def test_anonymous_and_confidential_reports_look_alike_at_rest(installed):
    receipt = await file(installed)
    anonymous, _ = await filed_case(installed.ctx, receipt)
    receipt = await file(installed, identity={"name": "Ana Example", "contact": "ana@example.org"})
    confidential, _ = await filed_case(installed.ctx, receipt)
    assert len(anonymous.identity_box) == len(confidential.identity_box)
    assert len(anonymous.report_box) == len(confidential.report_box)


async def test_wrong_password_unlocks_nothing(installed):
    assert await unlock(installed.ctx, installed.compliance_officer, "not the password") is None
