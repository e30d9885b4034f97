"""The Audit Committee: escalation, leadership routing, conflicts of interest, the discipline register."""

import csv
import io

import pytest
from sqlalchemy import select

from cases.accounts import create_staff
from cases.models import AuditEntry, Case, Grant
from tests.conftest import STAFF_PASSWORD, Reporter, case_for
from tests.test_lifecycle import IN_SCOPE


async def references(installed) -> list[str]:
    async with installed.ctx.sessions() as session:
        return list((await session.scalars(select(Case.reference))).all())


async def holders(installed, reference) -> set[int]:
    async with installed.ctx.sessions() as session:
        return set(
            (
                await session.scalars(
                    select(Grant.staff_id)
                    .join(Case, Case.id == Grant.case_id)
                    .where(Case.reference == reference, Grant.holder == "staff")
                )
            ).all()
        )


async def test_leadership_report_is_invisible_to_the_compliance_officer_everywhere(client, browsers, installed):
    receipts = [
        await Reporter(client).file({"summary": "The CFO takes kickbacks", "concerns_leadership": "yes"}),
        await Reporter(client).file({"summary": "An ordinary report"}),
    ]
    leadership, ordinary = [(await case_for(installed.ctx, receipt)).reference for receipt in receipts]
    officer = await browsers(installed.compliance_officer)
    listing = (await officer.get("/staff/")).text
    assert ordinary in listing and leadership not in listing
    assert '<span class="count">1</span>' in listing  # counts leave it out too
    assert (await officer.get(f"/staff/cases/{leadership}")).status_code == 404
    assert leadership not in (await officer.get("/staff/flags?all=1")).text
    assert (await officer.get("/staff/register.csv")).status_code == 403  # and no export
    committee = await browsers(installed.audit_committee)
    queue = (await committee.get("/staff/?queue=committee")).text
    assert leadership in queue and ordinary not in queue
    assert "The CFO takes kickbacks" in (await committee.get(f"/staff/cases/{leadership}")).text


async def test_escalation_grants_every_committee_member_and_records_why(client, browsers, installed):
    ctx = installed.ctx
    async with ctx.sessions() as session:
        second = await create_staff(session, ctx, email="member2@example.test", role="audit_committee", password=STAFF_PASSWORD)
    await Reporter(client).file({"summary": "Escalate me"})
    [reference] = await references(installed)
    officer = await browsers(installed.compliance_officer)
    committee = await browsers(installed.audit_committee)
    assert (await committee.get(f"/staff/cases/{reference}")).status_code == 404
    no_reason = await officer.post(f"/staff/cases/{reference}/escalate", {"reason": ""})
    assert no_reason.status_code == 422
    response = await officer.post(f"/staff/cases/{reference}/escalate", {"reason": "concerns a board member's friend"})
    assert response.status_code == 303
    assert await holders(installed, reference) == {installed.compliance_officer.id, installed.audit_committee.id, second.id}
    page = (await committee.get(f"/staff/cases/{reference}")).text
    assert "Escalate me" in page and "escalated" in page and "concerns a board member" in page
    async with ctx.sessions() as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "case.escalated"))
    # The reason is sealed with the case (the page above shows it); administrators read the log.
    assert entry.actor_id == installed.compliance_officer.id and entry.detail == ""
    assert entry.at is not None
    # The Committee returns it with instructions; the officer investigates again.
    back = await committee.post(f"/staff/cases/{reference}/return", {"instructions": "Interview the agent first."})
    assert back.status_code == 303
    page = (await officer.get(f"/staff/cases/{reference}")).text
    assert "investigating" in page and "Interview the agent first." in page


async def test_committee_takes_over_and_the_officers_lose_the_case(client, browsers, installed):
    await Reporter(client).file()
    [reference] = await references(installed)
    officer = await browsers(installed.compliance_officer)
    await officer.post(f"/staff/cases/{reference}/escalate", {"reason": "too close to the CFO"})
    committee = await browsers(installed.audit_committee)
    taken = await committee.post(f"/staff/cases/{reference}/take-over", {"assignee": installed.investigator.id})
    assert taken.status_code == 303
    assert await holders(installed, reference) == {installed.audit_committee.id, installed.investigator.id}
    assert (await officer.get(f"/staff/cases/{reference}")).status_code == 404
    investigator = await browsers(installed.investigator)
    assert (await investigator.get(f"/staff/cases/{reference}")).status_code == 200


async def test_implicated_staff_lose_access_and_only_a_committee_override_restores_it(client, browsers, installed):
    await Reporter(client).file()
    [reference] = await references(installed)
    officer = await browsers(installed.compliance_officer)
    await officer.post(f"/staff/cases/{reference}/assign", {"assignee": installed.investigator.id})
    await officer.post(f"/staff/cases/{reference}/escalate", {"reason": "the investigator may be involved"})
    assert (await officer.post(f"/staff/cases/{reference}/implicate", {"staff": installed.investigator.id})).status_code == 303
    investigator = await browsers(installed.investigator)
    assert (await investigator.get(f"/staff/cases/{reference}")).status_code == 404
    again = await officer.post(f"/staff/cases/{reference}/assign", {"assignee": installed.investigator.id})
    assert again.status_code == 422 and "implicates" in again.text
    committee = await browsers(installed.audit_committee)
    override = await committee.post(
        f"/staff/cases/{reference}/override", {"staff": installed.investigator.id, "reason": "cleared by outside counsel"}
    )
    assert override.status_code == 303
    assert (await investigator.get(f"/staff/cases/{reference}")).status_code == 200
    async with installed.ctx.sessions() as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "grant.override"))
    assert entry.actor_id == installed.audit_committee.id and entry.detail == f"staff {installed.investigator.id}"
    assert "cleared by outside counsel" in (await committee.get(f"/staff/cases/{reference}")).text


async def _concluded_case(client, officer, installed, category: str, outcome: str) -> str:
    receipt = await Reporter(client).file({"category": category})
    reference = (await case_for(installed.ctx, receipt)).reference
    for step, form in (("acknowledge", None), ("assess", IN_SCOPE), ("investigate", None)):
        await officer.post(f"/staff/cases/{reference}/{step}", form)
    await officer.post(
        f"/staff/cases/{reference}/conclude",
        {
            "outcome": outcome,
            "narrative": "Found.",
            "root_cause": "inadequate_controls",
            "root_cause_explanation": "Weak approvals.",
        },
    )
    return reference


async def test_discipline_register_and_csv_show_like_findings_side_by_side(client, browsers, installed):
    officer = await browsers(installed.compliance_officer)
    first = await _concluded_case(client, officer, installed, "foreign_bribery", "substantiated")
    second = await _concluded_case(client, officer, installed, "foreign_bribery", "substantiated")
    early = await officer.post(f"/staff/cases/{first}/discipline", {})
    assert early.status_code == 422
    outcomes = [
        (
            first,
            {
                "subject": "Sam Subject",
                "subject_role": "Sales director",
                "subject_type": "officer",
                "action": "termination_of_employment",
                "effective_on": "2026-10-01",
                "decided_by": "Board",
                "notes": "n",
            },
        ),
        (
            first,
            {
                "subject": "Agent Ltd",
                "subject_role": "Customs agent",
                "subject_type": "third_party",
                "action": "termination_of_relationship",
                "effective_on": "2026-10-02",
                "decided_by": "CFO",
                "notes": "",
            },
        ),
        (
            second,
            {
                "subject": "Kim Subject",
                "subject_role": "Sales manager",
                "subject_type": "employee",
                "action": "written_reprimand",
                "effective_on": "2026-10-05",
                "decided_by": "HR director",
                "notes": "",
            },
        ),
        (
            second,
            {
                "subject": "Old Case",
                "subject_role": '=HYPERLINK("x")',
                "subject_type": "employee",
                "action": "training",
                "effective_on": "2025-01-05",
                "decided_by": "HR director",
                "notes": "",
            },
        ),
    ]
    for reference, form in outcomes:
        assert (await officer.post(f"/staff/cases/{reference}/discipline", form)).status_code == 303
    page = (await officer.get(f"/staff/cases/{first}")).text
    assert "Sam Subject" in page and "Agent Ltd" in page  # names are sealed, and shown to grant holders

    committee = await browsers(installed.audit_committee)
    register = (await committee.get("/staff/register?from=2026-09-01&to=2026-10-31")).text
    assert "Sam Subject" not in register  # the register never opens a case
    exported = await committee.get("/staff/register.csv?from=2026-09-01&to=2026-10-31")
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows == [
        ["reference", "category", "finding", "subject_type", "subject_role", "action", "effective_on", "decided_by"],
        # ordered by category, then action, then subject type: like cases side by side
        [
            first,
            "Bribery of a foreign official",
            "Substantiated",
            "Officer",
            "Sales director",
            "Termination of employment",
            "2026-10-01",
            "Board",
        ],
        [
            first,
            "Bribery of a foreign official",
            "Substantiated",
            "Third party",
            "Customs agent",
            "Termination of the business relationship",
            "2026-10-02",
            "CFO",
        ],
        [
            second,
            "Bribery of a foreign official",
            "Substantiated",
            "Employee",
            "Sales manager",
            "Written reprimand",
            "2026-10-05",
            "HR director",
        ],
    ]
    everything = list(csv.reader(io.StringIO((await committee.get("/staff/register.csv?from=2025-01-01&to=2026-12-31")).text)))
    assert ['\'=HYPERLINK("x")'] == [r[4] for r in everything if r[5] == "Training"]  # no formula runs in a spreadsheet
    async with installed.ctx.sessions() as session:
        exports = (await session.scalars(select(AuditEntry.detail).where(AuditEntry.action == "export"))).all()
    assert exports == ["discipline register 2026-09-01..2026-10-31, 3 rows", "discipline register 2025-01-01..2026-12-31, 4 rows"]


@pytest.mark.parametrize("field", ["subject_type", "action", "effective_on"])
@pytest.mark.backend_agnostic
async def test_bad_discipline_input_is_refused(client, browsers, installed, field):
    officer = await browsers(installed.compliance_officer)
    reference = await _concluded_case(client, officer, installed, "other", "unsubstantiated")
    form = {
        "subject": "S",
        "subject_role": "R",
        "subject_type": "employee",
        "action": "no_action",
        "effective_on": "2026-10-01",
        "decided_by": "HR",
    }
    form[field] = "nonsense"
    response = await officer.post(f"/staff/cases/{reference}/discipline", form)
    assert response.status_code == 422


async def test_staff_reasons_are_sealed_notes_and_the_audit_log_keeps_only_kinds(client, browsers, installed):
    """Administrators read the audit log: a reason for a reveal, an escalation, a return or an
    override is case content, so it is a note sealed to the case's staff key, never a log detail."""
    await Reporter(client).file({"summary": "Reasons stay sealed"})
    [reference] = await references(installed)
    officer = await browsers(installed.compliance_officer)
    committee = await browsers(installed.audit_committee)
    canaries = {"reveal": "ReasonCanaryReveal1", "escalate": "ReasonCanaryEscalate2", "return": "ReasonCanaryReturn3"}
    await officer.post(f"/staff/cases/{reference}/reveal", {"reason": canaries["reveal"]})
    for step, form in (("acknowledge", None), ("assess", IN_SCOPE), ("investigate", None)):
        await officer.post(f"/staff/cases/{reference}/{step}", form)
    await officer.post(f"/staff/cases/{reference}/escalate", {"reason": canaries["escalate"]})
    await committee.post(f"/staff/cases/{reference}/return", {"instructions": canaries["return"]})
    page = (await officer.get(f"/staff/cases/{reference}")).text
    async with installed.ctx.sessions() as session:
        details = " ".join((await session.scalars(select(AuditEntry.detail))).all())
    for canary in canaries.values():
        assert canary in page and canary not in details
