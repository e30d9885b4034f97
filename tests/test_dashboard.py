"""The oversight dashboard and the board pack: figures against a hand-counted set of cases.

The cases are written straight into the database with known dates and codes (their sealed
boxes are dummies: nothing here opens one). Today is 2026-11-20, so the default period is
2026 Q1 to 2026 Q4. What each staff member counts:

- c1..c7, received 2026-07-01, held by the Compliance Officer: acknowledged after 1, 2, 3, 4,
  10, 20 and 20 days (median 4, p90 20); c1..c5 assessed after 5..9 days (median 7, p90 8.6);
  feedback given on c1..c3 only and closed c1, c2 only (under 5: not given). c1..c5
  foreign bribery (4 web, c5 by letter), c6, c7 third party. Findings: c1, c2 substantiated,
  c3 partly, c4, c5 unsubstantiated (3 of 5: 60%); c6, c7 substantiated (2: not given).
  Flags raised 2026-08-01 on c1..c6, c1..c5 resolved after 2, 4, 6, 8 and 30 days (median 6,
  p90 21.2; 4 within the 14 days), c6's open.
- c8 received 2026-11-01, not acknowledged (acknowledgement overdue); c9, c10 received
  2026-06-01 and investigating: c9's feedback and investigation overdue, c10 gave feedback.
- L, a leadership report, and I, a case implicating the Compliance Officer: both in Q3,
  left with a Compliance Officer grant; only the Committee counts them.
- J implicates the Committee member (held by the investigator): nobody here counts it.
"""

import base64
import io
import re
import secrets
from datetime import UTC, date, datetime, timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from cases import metrics
from cases.models import (
    AuditEntry,
    Case,
    CaseAllegation,
    DisciplinaryOutcome,
    Finding,
    Grant,
    Implicated,
    ListEntry,
    RemediationAction,
    RetaliationFlag,
)
from tests.conftest import identity_of

TODAY = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
Q3 = date(2026, 7, 1)
UNIT = "São Paulo — Zoë"
FAR_UNIT = "Łódź 東京"  # outside Latin-1: the PDF's built-in fonts must not stumble on it


def _case(reference: str, received: date, **fields) -> Case:
    defaults = dict(
        reference=reference,
        category="foreign_bribery",
        routing="compliance_officer",
        status="acknowledged",
        received_on=received,
        acknowledge_by=received + timedelta(days=7),
        feedback_by=received + timedelta(days=97),
        public_key=bytes(32),
        report_box=b"sealed",
        identity_box=b"sealed",
        receipt_lookup=secrets.token_bytes(32),
    )
    return Case(**{**defaults, **fields})


def _grant(case: Case, staff) -> Grant:
    return Grant(case_id=case.id, holder="staff", staff_id=staff.id, sealed_key=bytes(81))


def _days(n: int | None) -> date | None:
    return None if n is None else Q3 + timedelta(days=n)


async def build(installed) -> dict[str, Case]:
    """The hand-counted cases of the module doc."""
    officer, member, investigator = installed.compliance_officer, installed.audit_committee, installed.investigator
    cases: dict[str, Case] = {}
    rows: list = []
    async with installed.ctx.sessions() as session, session.begin():
        unit = ListEntry(kind="business_unit", label=UNIT)
        far = ListEntry(kind="business_unit", label=FAR_UNIT)
        session.add_all([unit, far])
        await session.flush()
        q3 = [
            # name, category, channel, ack, assess, feedback, close, status, finding, root cause
            ("c1", "foreign_bribery", "web", 1, 5, 30, 60, "closed", "substantiated", "inadequate_controls"),
            ("c2", "foreign_bribery", "web", 2, 6, 40, 70, "closed", "substantiated", "inadequate_controls"),
            ("c3", "foreign_bribery", "web", 3, 7, 50, None, "concluded", "partly_substantiated", "training_gap"),
            ("c4", "foreign_bribery", "web", 4, 8, None, None, "concluded", "unsubstantiated", None),
            ("c5", "foreign_bribery", "letter", 10, 9, None, None, "concluded", "unsubstantiated", None),
            ("c6", "third_party", "web", 20, None, None, None, "concluded", "substantiated", "third_party_due_diligence"),
            ("c7", "third_party", "web", 20, None, None, None, "concluded", "substantiated", "third_party_due_diligence"),
        ]
        for n, (name, category, channel, ack, assess, feedback, close, status, outcome, cause) in enumerate(q3):
            case = _case(
                f"2026-TEST-C{n + 1}",
                Q3,
                category=category,
                channel=channel,
                status=status,
                acknowledged_on=_days(ack),
                assessed_on=_days(assess),
                feedback_given_on=_days(feedback),
                closed_on=_days(close),
                closure="investigated" if close else None,
                business_unit_id=unit.id if n < 5 else far.id if n == 5 else None,
            )
            cases[name] = case
        cases["c8"] = _case("2026-TEST-C8", date(2026, 11, 1), status="received", category="other")
        cases["c9"] = _case(
            "2026-TEST-C9",
            date(2026, 6, 1),
            status="investigating",
            category="internal_controls",
            acknowledged_on=date(2026, 6, 2),
            feedback_by=date(2026, 9, 2),
            investigation_due=date(2026, 11, 1),
        )
        cases["c10"] = _case(
            "2026-TEST-C10",
            date(2026, 6, 1),
            status="investigating",
            category="internal_controls",
            acknowledged_on=date(2026, 6, 2),
            feedback_by=date(2026, 9, 2),
            feedback_given_on=date(2026, 8, 1),
            investigation_due=date(2026, 12, 31),
        )
        cases["L"] = _case("2026-TEST-L", Q3, routing="audit_committee", acknowledged_on=_days(1))
        cases["I"] = _case("2026-TEST-I", Q3, category="other")
        cases["J"] = _case("2026-TEST-J", Q3, category="other")
        session.add_all(cases.values())
        await session.flush()
        for name, case in cases.items():
            if name != "J":
                rows.append(_grant(case, officer))
            rows.append(_grant(case, investigator if name == "J" else member))
        for n, (name, *_, outcome, cause) in enumerate(q3):
            rows.append(
                Finding(
                    case_id=cases[name].id,
                    outcome=outcome,
                    root_cause=cause,
                    narrative_box=b"x",
                    root_cause_box=b"x",
                    decided_by=officer.id,
                    decided_on=date(2026, 9, 1),
                )
            )
        rows += [CaseAllegation(case_id=cases[f"c{n}"].id, code="official_bribery") for n in range(1, 6)]
        rows.append(CaseAllegation(case_id=cases["c1"].id, code="false_records"))
        for name, subject_type, action in (
            ("c1", "employee", "written_reprimand"),
            ("c2", "employee", "written_reprimand"),
            ("c3", "officer", "training"),
        ):
            rows.append(
                DisciplinaryOutcome(
                    case_id=cases[name].id,
                    subject_box=b"x",
                    subject_role="sales",
                    subject_type=subject_type,
                    action=action,
                    effective_on=date(2026, 9, 15),
                    decided_by="HR",
                    notes_box=b"x",
                    recorded_by=officer.id,
                )
            )
        for name, resolved_after in (
            ("c1", 2),
            ("c2", 4),
            ("c3", 6),
            ("c4", 8),
            ("c5", 30),
            ("c6", None),
            ("I", None),
            ("J", None),
        ):
            opened = date(2026, 8, 1)
            rows.append(
                RetaliationFlag(
                    case_id=cases[name].id,
                    number=1,
                    source="reporter",
                    opened_on=opened,
                    respond_by=opened + timedelta(days=14),
                    status="open" if resolved_after is None else "resolved",
                    resolution=None if resolved_after is None else "remedy",
                    resolved_on=None if resolved_after is None else opened + timedelta(days=resolved_after),
                )
            )
        for number, (due, status) in enumerate(((date(2026, 11, 1), "open"), (date(2026, 10, 1), "done")), start=1):
            rows.append(
                RemediationAction(
                    case_id=cases["c3"].id,
                    number=number,
                    what_box=b"x",
                    owner_box=b"x",
                    due_on=due,
                    status=status,
                    created_by=officer.id,
                    created_on=date(2026, 9, 2),
                    updated_on=date(2026, 9, 2),
                )
            )
        rows.append(Implicated(case_id=cases["I"].id, staff_id=officer.id, named_by=member.id, named_on=Q3))
        rows.append(Implicated(case_id=cases["J"].id, staff_id=member.id, named_by=officer.id, named_on=Q3))
        session.add_all(rows)
    return cases


@pytest.fixture
async def figures(installed, clock):
    clock.moment = TODAY
    await build(installed)
    return installed


async def board_of(installed, staff, period=None):
    identity = await identity_of(installed, staff)
    async with installed.ctx.sessions() as session:
        return await metrics.dashboard(session, identity, period or metrics.default_period(TODAY.date()), TODAY.date())


def shown(counts) -> list[str]:
    return [str(count) for count in counts]


# The figures, hand-counted


async def test_the_officer_figures_match_the_hand_count(figures):
    board = await board_of(figures, figures.compliance_officer)
    assert [str(q) for q in board.period.quarters] == ["2026 Q1", "2026 Q2", "2026 Q3", "2026 Q4"]
    # Q3 reports: c1..c7 (not L, not I).
    assert [count.value for count in board.received] == [0, 2, 7, 1]
    acknowledge = board.durations["acknowledge"][2]
    assert (acknowledge.n, acknowledge.median, acknowledge.p90) == (7, 4, 20)
    assess = board.durations["assess"][2]
    assert (assess.n, assess.median, assess.p90) == (5, 7, pytest.approx(8.6))
    assert board.durations["feedback"][2] == metrics.Spread(3, None, None)  # under 5: not given
    assert board.durations["close"][2].median is None
    assert board.durations["acknowledge"][1] == metrics.Spread(2, None, None)
    # Substantiation: 3 of the 5 foreign-bribery findings; 2 third-party findings give no rate.
    assert str(board.substantiation["foreign_bribery"]) == "60%"
    assert board.substantiation["third_party"].percent is None
    assert board.root_causes == {"inadequate_controls": 2, "training_gap": 1, "third_party_due_diligence": 2}
    # Overdue now: c8's acknowledgement, c9's feedback and investigation (not c10's: feedback given), one action.
    assert board.overdue == metrics.Overdue(acknowledge=1, feedback=1, investigation=1, remediation=1)
    # Open by status and age: c3..c7 concluded at 142 days, c9, c10 investigating at 172, c8 received at 19.
    assert [c.value for c in board.open_by_status["concluded"]] == [0, 0, 5, 0, 0]
    assert [c.value for c in board.open_by_status["investigating"]] == [0, 0, 2, 0, 0]
    assert [c.value for c in board.open_by_status["received"]] == [1, 0, 0, 0, 0]
    assert "acknowledged" not in board.open_by_status  # L and I are not counted
    # Flags raised in the period: c1..c6 (not I's); response median 6, p90 21.2 days.
    flags = board.flags
    assert (flags.raised, flags.open, flags.resolved, flags.resolved_in_time) == (6, 1, 5, 4)
    assert (flags.response.median, flags.response.p90) == (6, pytest.approx(21.2))
    assert (flags.open_now, flags.overdue_now) == (1, 1)
    # The consistency view: like findings side by side.
    assert board.discipline == {
        ("substantiated", "employee"): {"written_reprimand": 2},
        ("partly_substantiated", "officer"): {"training": 1},
    }
    assert board.register["status"] == {"closed": 2, "concluded": 5, "received": 1, "investigating": 2}
    assert board.register["finding"] == {"substantiated": 4, "partly_substantiated": 1, "unsubstantiated": 2, "none": 3}
    assert board.register["category"]["other"] == 1  # c8 only: not I


async def test_small_counts_in_a_breakdown_read_fewer_than_five(figures):
    board = await board_of(figures, figures.compliance_officer)
    assert shown(board.by_category["foreign_bribery"]) == ["0", "0", "5", "0"]
    assert shown(board.by_category["third_party"]) == ["0", "0", "fewer than 5", "0"]
    assert shown(board.by_channel["letter"]) == ["0", "0", "fewer than 5", "0"]
    assert shown(board.by_allegation["official_bribery"]) == ["0", "0", "5", "0"]
    assert shown(board.by_allegation["false_records"]) == ["0", "0", "fewer than 5", "0"]
    assert [(label, str(count)) for label, count in board.by_business_unit] == [(UNIT, "5"), (FAR_UNIT, "fewer than 5")]
    assert board.by_category["third_party"][2].drawn == 0  # a chart does not draw it either
    assert str(board.open_by_status["received"][0]) == "fewer than 5"


async def test_the_committee_counts_every_case_but_one_implicating_the_member(figures):
    officer = await board_of(figures, figures.compliance_officer)
    committee = await board_of(figures, figures.audit_committee)
    # L and I besides c1..c7; never J.
    assert committee.received[2].value == officer.received[2].value + 2 == 9
    assert committee.register["category"]["other"] == 2  # c8 and I, not J
    acknowledge = committee.durations["acknowledge"][2]  # L acknowledged after a day
    assert (acknowledge.n, acknowledge.median, acknowledge.p90) == (8, 3.5, 20)
    assert [c.value for c in committee.open_by_status["acknowledged"]] == [0, 0, 2, 0, 0]
    assert (committee.flags.raised, committee.flags.open_now) == (7, 2)  # I's flag, not J's


def test_percentiles_interpolate_between_ranks():
    assert metrics.percentile({2: 1, 3: 1, 10: 1, 11: 1}, 0.5) == 6.5
    assert metrics.percentile({5: 4}, 0.9) == 5
    assert metrics.Spread.of({1: 4}) == metrics.Spread(4, None, None)


@pytest.mark.parametrize(
    ("first", "last", "field"),
    [("2026-Q5", "", "from"), ("2026-Q3", "2026-Q1", "to"), ("2026-Q1", "2027-Q1", "to"), ("2020-Q1", "2026-Q4", "from")],
)
def test_a_bad_period_names_its_field(first, last, field):
    with pytest.raises(metrics.InvalidInput) as raised:
        metrics.parse_period(first, last, TODAY.date())
    assert field in raised.value.fields


# Through the app


async def test_the_dashboard_page_shows_figures_charts_and_tables(figures, browsers):
    page = await (await browsers(figures.compliance_officer)).get("/staff/dashboard")
    assert page.status_code == 200, page.text
    text = page.text
    assert "2026 Q1 to 2026 Q4" in text
    # Each chart: an SVG image with its text alternative, and its table.
    images = re.findall(r'<img src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)" alt="([^"]+)"', text)
    assert len(images) == 9 and all(alt for _, alt in images)
    svg = base64.b64decode(images[0][0]).decode()
    assert "<svg" in svg and "<script" not in svg
    assert "<td>fewer than 5</td>" in text  # third party in Q3, the letter, c8's age
    assert "<td>60%</td>" in text
    assert "<td>4 / 20 (7)</td>" in text  # days to acknowledge in Q3: median / p90 (cases)
    assert "<td>7 / 8.6 (5)</td>" in text
    assert UNIT in text
    # The Compliance Officer makes no board pack.
    assert "board-pack.pdf" not in text
    assert 'href="/staff/dashboard"' in text  # the menu


async def test_the_period_form_keeps_a_good_period_and_refuses_a_bad_one(figures, browsers):
    browser = await browsers(figures.audit_committee)
    page = await browser.get("/staff/dashboard", params={"from": "2026-Q3", "to": "2026-Q3"})
    assert page.status_code == 200
    assert '<option value="2026-Q3" selected>' in page.text
    assert "<h2>2026 Q3</h2>" in page.text
    assert "board-pack.pdf?from=2026-Q3&amp;to=2026-Q3" in page.text
    assert "Choose a quarter" not in page.text
    for bad in ({"from": "2026-Q4", "to": "2026-Q1"}, {"from": "Q9"}, {"to": "2031-Q1"}):
        page = await browser.get("/staff/dashboard", params=bad)
        assert page.status_code == 422, bad
        assert 'aria-invalid="true"' in page.text and "<img" not in page.text
        assert 'name="from"' in page.text  # the form again
    assert '<option value="" selected>Choose a quarter</option>' in page.text  # not a quarter it never asked for


async def test_the_officer_page_counts_neither_the_leadership_report_nor_the_case_implicating_them(figures, browsers):
    officer = await (await browsers(figures.compliance_officer)).get(
        "/staff/dashboard", params={"from": "2026-Q3", "to": "2026-Q3"}
    )
    committee = await (await browsers(figures.audit_committee)).get(
        "/staff/dashboard", params={"from": "2026-Q3", "to": "2026-Q3"}
    )
    row = re.compile(r"<th scope=\"row\">All reports</th><td>([^<]+)</td>")
    assert row.search(officer.text).group(1) == "7"
    assert row.search(committee.text).group(1) == "9"


@pytest.mark.parametrize("role", ["investigator", "admin"])
async def test_roles_without_a_dashboard_get_403(figures, browsers, role):
    if role == "admin":
        from cases.accounts import create_staff
        from tests.conftest import STAFF_PASSWORD

        async with figures.ctx.sessions() as session:
            staff = await create_staff(session, figures.ctx, email="admin@example.test", role="admin", password=STAFF_PASSWORD)
    else:
        staff = figures.investigator
    browser = await browsers(staff)
    for path in ("/staff/dashboard", "/staff/dashboard/board-pack.pdf"):
        assert (await browser.get(path, params={"from": "bad"})).status_code == 403
    assert 'href="/staff/dashboard"' not in (await browser.get("/staff/password")).text


async def test_the_board_pack_carries_the_figures_and_its_maker_on_every_page(figures, browsers):
    browser = await browsers(figures.audit_committee)
    response = await browser.get("/staff/dashboard/board-pack.pdf", params={"from": "2026-Q2", "to": "2026-Q3"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == 'attachment; filename="board-pack-2026-Q2-2026-Q3.pdf"'
    reader = PdfReader(io.BytesIO(response.content))
    pages = [page.extract_text() for page in reader.pages]
    assert len(pages) > 1
    stamp = f"Made by {figures.audit_committee.email} on 2026-11-20 09:3"
    assert all(stamp in " ".join(page.split()) for page in pages)
    text = " ".join(" ".join(pages).split())
    assert "board pack, 2026 Q2 to 2026 Q3" in text
    assert "4 / 20 (7)" not in text  # the Committee counts L too:
    assert "3.5 / 20 (8)" in text
    assert "60%" in text and "fewer than 5" in text
    # No small count comes back another way: not beside a withheld percentile, nor in the register summary.
    assert not re.search(r"not given \(\d", text)
    assert re.search(r"Payment through a third party or intermediary fewer than 5", text)
    assert "Written reprimand" in text
    assert UNIT in text  # Latin-1 and Windows-1252 as they are
    assert "dz 東京" not in text and "ódz" in text  # beyond them, folded or a box: no crash
    async with figures.ctx.sessions() as session:
        entries = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "boardpack.generated"))).all()
    assert [(e.actor_id, e.detail) for e in entries] == [(figures.audit_committee.id, "2026-Q2..2026-Q3")]


async def test_the_compliance_officer_makes_no_board_pack(figures, browsers):
    browser = await browsers(figures.compliance_officer)
    assert (await browser.get("/staff/dashboard/board-pack.pdf")).status_code == 403
    async with figures.ctx.sessions() as session:
        assert (await session.scalars(select(AuditEntry).where(AuditEntry.action == "boardpack.generated"))).all() == []


async def test_a_bad_period_for_the_board_pack_is_the_form_again(figures, browsers):
    browser = await browsers(figures.audit_committee)
    response = await browser.get("/staff/dashboard/board-pack.pdf", params={"from": "2026-Q4", "to": "2026-Q1"})
    assert response.status_code == 422 and "text/html" in response.headers["content-type"]


def test_the_board_pack_renders_labels_outside_latin_1():
    from cases import boardpack

    # ź folds to z; Ł has no base letter and stays (drawn as a box); markup is escaped.
    assert boardpack.pdf_text("Łódź <R&D>") == "Łódz &lt;R&amp;D&gt;"


async def test_the_figures_are_counted_again_once_anything_is_logged(figures):
    from sqlalchemy import update

    from cases import audit

    assert (await board_of(figures, figures.compliance_officer)).overdue.acknowledge == 1
    async with figures.ctx.sessions() as session, session.begin():
        await session.execute(update(Case).where(Case.reference == "2026-TEST-C8").values(status="acknowledged"))
    # Nothing logged (a change made outside the application): the figures counted are kept.
    assert (await board_of(figures, figures.compliance_officer)).overdue.acknowledge == 1
    async with figures.ctx.sessions() as session, session.begin():
        await audit.record(session, "case.acknowledged", actor_id=figures.compliance_officer.id, at=TODAY)
    assert (await board_of(figures, figures.compliance_officer)).overdue.acknowledge == 0
