"""Demo data: staff accounts and about fifty reports, filed through the real intake code."""

import random
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select

from .accounts import create_staff, unlock
from .context import Context
from .discipline import Outcome, record_outcome
from .escalation import escalate
from .filing import file_report, parse_report
from .follow_up import send_reporter_message
from .identity import Identity
from .installation import initialise, write_recovery_key
from .lifecycle import CLOSING_MESSAGES, AssessmentDraft, ClosureDraft, assess, close
from .lists import add as add_to_list
from .models import Case, Installation, ListEntry, Staff
from .settings import Settings
from .workflow import FindingDraft, acknowledge, conclude, move, write

DEMO_STAFF = [
    ("compliance@demo.speakup.test", "compliance_officer", "demo-compliance-officer"),
    ("investigator@demo.speakup.test", "investigator", "demo-investigator-1"),
    ("audit@demo.speakup.test", "audit_committee", "demo-audit-committee"),
    ("admin@demo.speakup.test", "admin", "demo-administrator"),
]

SCENARIOS = [
    (
        "foreign_bribery",
        "Cash to a customs official to release a shipment",
        "Our logistics agent said the shipment would only clear if we paid the inspector in cash. "
        "The regional manager approved it by phone and it was booked as 'handling fees'.",
        "yes",
    ),
    (
        "gifts_hospitality",
        "Luxury trip for a ministry procurement officer",
        "Before the tender decision, sales paid a week at a beach resort for the procurement officer and "
        "his family. The invoice was split across three expense reports.",
        "yes",
    ),
    (
        "facilitation_payment",
        "Regular small payments to speed up visa processing",
        "HR in the regional office pays about 50 dollars per visa to a clerk at the immigration office. "
        "Nobody pre-approved it in writing and it is not recorded as such.",
        "yes",
    ),
    (
        "third_party",
        "Distributor commission far above the market rate",
        "The new distributor gets 35% commission, where others get 8%. The distributor's owner is the brother "
        "of an official at the state telecom operator that is our biggest customer.",
        "yes",
    ),
    (
        "donation_sponsorship",
        "Donation to a charity run by the mayor's wife",
        "We donated to a foundation chaired by the mayor's wife two weeks before the permit for the new "
        "warehouse was granted. The donation was not pre-approved by the Compliance Officer.",
        "unknown",
    ),
    (
        "books_records",
        "Consulting invoices with no work behind them",
        "Quarterly consulting invoices from a company nobody has met are approved without any deliverable. "
        "The amounts are just under the approval threshold.",
        "unknown",
    ),
    (
        "internal_controls",
        "Purchase orders split to avoid a second approval",
        "A manager splits orders for the same supplier into several purchase orders under the limit, "
        "so that finance never reviews them.",
        "no",
    ),
    (
        "gifts_hospitality",
        "Expensive watches given to officials at a trade fair",
        "At the trade fair our booth handed out watches worth several hundred dollars each to visiting "
        "officials from a state-owned utility.",
        "yes",
    ),
    (
        "retaliation",
        "Moved to a worse shift after raising a concern",
        "After I asked my manager about unusual payments to an agent, I was moved to night shifts and left out of meetings.",
        "no",
    ),
    (
        "other",
        "Pressure to backdate a contract",
        "I was asked to backdate the signature page of an agency agreement so that it predates the first payment.",
        "unknown",
    ),
]
BUSINESS_UNITS = ["Sales Latin America", "Sales Asia Pacific", "Logistics", "Procurement", "Finance"]
COUNTRIES = ["Mexico", "India", "Nigeria", "Indonesia", "Brazil", "Vietnam", "Egypt", "Kazakhstan", "Peru", "Philippines"]
RECEIPTS_FILE = "demo-receipts.txt"


def _moment(day) -> datetime:
    return datetime.combine(day, time(10), tzinfo=UTC)


async def seed(settings: Settings, count: int = 50) -> str:
    """Set up the demo once; on later runs just say what is there. Returns what to print."""
    ctx = Context(settings)
    receipts_path = settings.data_dir / RECEIPTS_FILE
    try:
        async with ctx.sessions() as session:
            initialised = await session.scalar(select(Installation.id)) is not None
        if not initialised:
            await _seed(ctx, count, receipts_path)
        async with ctx.sessions() as session:
            cases = len((await session.scalars(select(Case.id))).all())
            staff = (await session.scalars(select(Staff.email))).all()
    finally:
        await ctx.close()
    lines = [f"Demo data: {cases} reports, {len(staff)} staff accounts.", "Demo staff (email / password):"]
    lines += [f"  {email:34} {password:26} {role}" for email, role, password in DEMO_STAFF]
    if receipts_path.exists():
        lines.append("Demo receipts to try on the follow-up page:")
        lines += [f"  {line}" for line in receipts_path.read_text().split()]
    return "\n".join(lines)


async def _seed(ctx: Context, count: int, receipts_path) -> None:
    rng = random.Random(2011)  # the same demo every time
    async with ctx.sessions() as session:
        recovery = await initialise(session, ctx.today())
    write_recovery_key(ctx.settings.data_dir / "recovery-key.txt", recovery)
    staff = {}
    for email, role, password in DEMO_STAFF:
        async with ctx.sessions() as session:
            member = await create_staff(session, ctx, email=email, role=role, password=password)
        # Act as this member, as their login would let them.
        private = await unlock(ctx, member, password)
        assert private is not None  # the password it was just given
        staff[role] = Identity(member, private)
    # The administrator's lists, so that the assessment form has choices.
    for kind, labels in (("business_unit", BUSINESS_UNITS), ("country", COUNTRIES)):
        for label in labels:
            async with ctx.sessions() as session:
                await add_to_list(session, staff["admin"], kind, label, _moment(ctx.today() - timedelta(days=200)))
    shown: list[str] = []
    filed: set[str] = set()
    for number in range(count):
        category, summary, details, foreign = SCENARIOS[number % len(SCENARIOS)]
        received = ctx.today() - timedelta(days=rng.randint(0, 150))
        leadership = number % 9 == 4
        data = {
            "category": category,
            "summary": summary,
            "details": details,
            "country": rng.choice(COUNTRIES),
            "occurred_on": (received - timedelta(days=rng.randint(5, 90))).strftime("%B %Y"),
            "foreign_official_involved": foreign,
            "amount": f"USD {rng.randint(1, 250) * 1000:,}" if category != "retaliation" else "",
            "concerns_leadership": leadership,
            "identity": {"name": f"Demo Reporter {number}", "contact": "a private phone number"} if number % 4 == 1 else None,
        }
        async with ctx.sessions() as session:
            receipt = await file_report(session, ctx, parse_report(data), [], received)
        if len(shown) < 3:
            shown.append(receipt)
        async with ctx.sessions() as session:
            # The one case not seen before (ids are random: "the newest" is not the highest).
            reference = await session.scalar(select(Case.reference).where(Case.reference.not_in(filed)))
            assert reference is not None
            filed.add(reference)
        age = (ctx.today() - received).days
        handler = staff["audit_committee" if leadership else "compliance_officer"]
        if age > 7 and rng.random() < 0.75:
            acknowledged = _moment(received + timedelta(days=rng.randint(1, 7)))
            async with ctx.sessions() as session:
                await acknowledge(session, ctx, handler, reference, acknowledged)
            async with ctx.sessions() as session:
                await write(
                    session,
                    handler,
                    reference,
                    "Thank you for your report. We are looking into it. Can you tell us who approved the payment?",
                    note=False,
                    now=acknowledged + timedelta(days=1),
                )
            if rng.random() < 0.5:
                async with ctx.sessions() as session:
                    await send_reporter_message(
                        session,
                        ctx,
                        receipt,
                        "It was approved by the regional sales director, by phone.",
                        retaliation=False,
                        uploads=[],
                        today=received + timedelta(days=10),
                    )
                await _assess(ctx, handler, reference, number, "in_scope", acknowledged + timedelta(days=2))
                async with ctx.sessions() as session:
                    await move(session, handler, reference, "investigate", acknowledged + timedelta(days=3))
                await _further(ctx, staff, handler, reference, number, acknowledged, leadership)
            elif number % 4 == 2:  # not for this channel: assessed, and closed without an investigation
                await _assess(ctx, handler, reference, number, "out_of_scope", acknowledged + timedelta(days=2))
                async with ctx.sessions() as session:
                    draft = ClosureDraft.parse(closure="out_of_scope", message=CLOSING_MESSAGES["out_of_scope"])
                    await close(session, ctx, handler, reference, draft, acknowledged + timedelta(days=2))
        if number % 16 == 3:
            async with ctx.sessions() as session:
                await send_reporter_message(
                    session,
                    ctx,
                    receipt,
                    "Since my report my manager has excluded me from all client meetings.",
                    retaliation=True,
                    uploads=[],
                    today=ctx.today(),
                )
        if (number + 1) % 10 == 0:
            print(f"  filed {number + 1}/{count} demo reports", flush=True)
    # Demo only: real receipts are never written anywhere.
    receipts_path.write_text("\n".join(shown) + "\n")
    receipts_path.chmod(0o600)


async def _further(ctx: Context, staff: dict, handler: Identity, reference: str, number: int, start, leadership: bool) -> None:
    """Take some demo cases on: escalations, findings, discipline, closure."""
    if number % 7 == 2 and not leadership:
        async with ctx.sessions() as session:
            await escalate(session, ctx, handler, reference, "Concerns a member of the executive team", start + timedelta(days=5))
        return
    if number % 5 != 0 or start > _moment(ctx.today() - timedelta(days=40)):
        return
    async with ctx.sessions() as session:
        finding = FindingDraft.parse(
            "substantiated",
            "The payments were made and booked as fees.",
            "inadequate_controls",
            "Agent fees were approved without documents.",
        )
        await conclude(session, handler, reference, finding, start + timedelta(days=20))
    async with ctx.sessions() as session:
        outcome = Outcome(
            subject=f"Demo Subject {number}",
            subject_role="Regional sales manager",
            subject_type="employee",
            action=["written_reprimand", "suspension", "termination_of_employment"][number % 3],
            effective_on=(start + timedelta(days=25)).date(),
            decided_by="HR director",
            notes="Decided after a hearing.",
        )
        await record_outcome(session, handler, reference, outcome, start + timedelta(days=25))
    async with ctx.sessions() as session:
        draft = ClosureDraft.parse(closure="investigated", message=CLOSING_MESSAGES["investigated"])
        await close(session, ctx, handler, reference, draft, start + timedelta(days=30))


async def _assess(ctx: Context, handler: Identity, reference: str, number: int, admissibility: str, moment) -> None:
    """Assess a demo case, coded with the demo lists."""
    async with ctx.sessions() as session:
        ids = (await session.execute(select(ListEntry.kind, ListEntry.id).order_by(ListEntry.id))).all()
    units = [entry for kind, entry in ids if kind == "business_unit"]
    countries = [entry for kind, entry in ids if kind == "country"]
    in_scope = admissibility == "in_scope"
    draft = AssessmentDraft.parse(
        admissibility=admissibility,
        priority=("low", "medium", "high", "critical")[number % 4],
        detriment_risk=("low", "medium", "high")[number % 3],
        allegations=["official_bribery", "false_records"][: 1 + number % 2],
        business_unit=str(units[number % len(units)]),
        country=str(countries[number % len(countries)]),
        plan="Interview the approver, pull the payments and the agent's contract, check the books." if in_scope else "",
        investigation_due=(moment + timedelta(days=60)).date().isoformat() if in_scope else "",
    )
    async with ctx.sessions() as session:
        await assess(session, ctx, handler, reference, draft, moment)
