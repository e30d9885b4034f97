"""Two staff acting on one case at the same moment, through two app instances (two workers,
each with its own connection pool) on one database: each step locks the case before it
decides, so the second decides on what the first left.

Each race runs on several cases; before the lock, on PostgreSQL, nearly every one of them
broke an invariant (two status changes, two investigators holding the key, a 500, a case
held by nobody)."""

import asyncio

import pytest
from sqlalchemy import func, select

from cases.accounts import create_staff
from cases.models import AuditEntry, Case, Grant, Staff
from tests.conftest import STAFF_PASSWORD, Reporter, StaffBrowser, case_for, new_app
from tests.test_committee import holders
from tests.test_lifecycle import IN_SCOPE

ROUNDS = 6
SEE_OTHER, REFUSED = 303, {409, 422}


@pytest.fixture
async def second_app(settings, app, clock):
    """Another worker of the same installation: its own app, engine and pool; the same clock."""
    other = new_app(settings)
    other.state.ctx.clock = clock
    async with other.router.lifespan_context(other):
        yield other


@pytest.fixture
async def twins(app, second_app, installed, clock):
    """A staff member logged in once on each worker."""
    opened: list[StaffBrowser] = []

    async def open_as(staff, on=app) -> StaffBrowser:
        browser = StaffBrowser(on, clock, staff.email)
        assert (await browser.login()).status_code == SEE_OTHER
        opened.append(browser)
        return browser

    async def pair(first, second) -> tuple[StaffBrowser, StaffBrowser]:
        return await open_as(first, app), await open_as(second, second_app)

    yield pair
    for browser in opened:
        await browser.aclose()


async def new_cases(client, installed, count: int, **fields) -> list[str]:
    receipts = [await Reporter(client).file(fields or None) for _ in range(count)]
    return [(await case_for(installed.ctx, receipt)).reference for receipt in receipts]


async def race(first, second):
    results = await asyncio.gather(first, second)
    codes = sorted(r.status_code for r in results)
    assert 500 not in codes, codes
    return codes


async def test_two_acknowledgements_at_once_change_the_status_once(client, installed, twins):
    one, other = await twins(installed.compliance_officer, installed.compliance_officer)
    for reference in await new_cases(client, installed, ROUNDS):
        codes = await race(one.post(f"/staff/cases/{reference}/acknowledge"), other.post(f"/staff/cases/{reference}/acknowledge"))
        assert codes == [SEE_OTHER, 409]
        async with installed.ctx.sessions() as session:
            changes = await session.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .join(Case, Case.id == AuditEntry.case_id)
                .where(Case.reference == reference, AuditEntry.action == "status.changed")
            )
        assert changes == 1


async def test_two_assignments_at_once_leave_one_investigator_holding_the_case(client, installed, twins):
    async with installed.ctx.sessions() as session:
        second = await create_staff(
            session, installed.ctx, email="inv2@example.test", role="investigator", password=STAFF_PASSWORD
        )
    one, other = await twins(installed.compliance_officer, installed.compliance_officer)
    investigators = {installed.investigator.id, second.id}
    for reference in await new_cases(client, installed, ROUNDS):
        codes = await race(
            one.post(f"/staff/cases/{reference}/assign", {"assignee": installed.investigator.id}),
            other.post(f"/staff/cases/{reference}/assign", {"assignee": second.id}),
        )
        assert codes == [SEE_OTHER, SEE_OTHER]  # one after the other: the second replaces the first
        held = await holders(installed, reference) & investigators
        async with installed.ctx.sessions() as session:
            assignee = await session.scalar(select(Case.assignee_id).where(Case.reference == reference))
        assert held == {assignee}


async def test_a_conclusion_racing_an_escalation_is_one_or_the_other(client, installed, twins):
    officer, twin = await twins(installed.compliance_officer, installed.compliance_officer)
    finding = {"outcome": "unsubstantiated", "narrative": "Nothing found."}
    for reference in await new_cases(client, installed, ROUNDS):
        for step, form in (("acknowledge", None), ("assess", IN_SCOPE), ("investigate", None)):
            assert (await officer.post(f"/staff/cases/{reference}/{step}", form)).status_code == SEE_OTHER
        codes = await race(
            officer.post(f"/staff/cases/{reference}/conclude", finding),
            twin.post(f"/staff/cases/{reference}/escalate", {"reason": "the board should see this"}),
        )
        assert codes == [SEE_OTHER, 409]
        async with installed.ctx.sessions() as session:
            case = await session.scalar(select(Case).where(Case.reference == reference))
        assert case.status in {"concluded", "escalated"}
        assert (case.status == "escalated") == (case.escalated_on is not None)


async def test_the_last_two_holders_recusing_at_once_leave_one_holding_it(client, installed, twins):
    officer, member = await twins(installed.compliance_officer, installed.audit_committee)
    for reference in await new_cases(client, installed, ROUNDS, category="books_records"):  # the CO and the Committee hold it
        confirmed = {"confirm": "yes"}
        codes = await race(
            officer.post(f"/staff/cases/{reference}/recuse", confirmed),
            member.post(f"/staff/cases/{reference}/recuse", confirmed),
        )
        assert codes[0] == SEE_OTHER and codes[1] in REFUSED
        assert len(await holders(installed, reference)) == 1


async def test_a_take_over_racing_an_assignment_leaves_no_officer_or_their_investigator(client, installed, twins):
    member, officer = await twins(installed.audit_committee, installed.compliance_officer)
    async with installed.ctx.sessions() as session:
        outside = await create_staff(
            session, installed.ctx, email="counsel@example.test", role="investigator", password=STAFF_PASSWORD
        )
    for reference in await new_cases(client, installed, ROUNDS, category="books_records"):
        await race(
            member.post(f"/staff/cases/{reference}/take-over", {"assignee": outside.id}),
            officer.post(f"/staff/cases/{reference}/assign", {"assignee": installed.investigator.id}),
        )
        async with installed.ctx.sessions() as session:
            case = await session.scalar(select(Case).where(Case.reference == reference))
            roles = dict((await session.execute(select(Staff.id, Staff.role))).all())
        held = await holders(installed, reference)
        if case.assignee_id == outside.id:  # the take-over came second, or the assignment found no grant
            assert installed.investigator.id not in held and installed.compliance_officer.id not in held
        assert all(roles[s] == "audit_committee" or s in (case.assignee_id, installed.compliance_officer.id) for s in held)


async def test_ten_wrong_passwords_at_once_get_five_tries_and_lock_the_account(app, second_app, installed, clock):
    """The login locked the staff row but decided on the values it had loaded before: ten guesses at
    once counted as two to four, and the account stayed open. Each attempt is now counted before
    its Argon2id run: five are tried, the other five are refused as locked, and the account is."""
    guessers = [StaffBrowser(app if n % 2 else second_app, clock, installed.investigator.email) for n in range(10)]
    forms = [
        {"email": installed.investigator.email, "password": f"guess number {n}", "csrf_token": await b.token()}
        for n, b in enumerate(guessers)
    ]
    responses = await asyncio.gather(*(b.client.post("/staff/login", data=f) for b, f in zip(guessers, forms, strict=True)))
    assert [r.status_code for r in responses] == [401] * 10
    async with installed.ctx.sessions() as session:
        staff = await session.get_one(Staff, installed.investigator.id)
    assert staff.failed_logins == 5 and staff.locked_until is not None
    async with installed.ctx.sessions() as session:
        reasons = (await session.scalars(select(AuditEntry.detail).where(AuditEntry.action == "login.failed"))).all()
    assert sorted(reasons) == ["locked"] * 5 + ["password"] * 5
    for browser in guessers:
        await browser.aclose()


async def test_one_code_sent_twice_at_once_logs_in_once(app, second_app, installed, clock):
    enrolled = StaffBrowser(app, clock, installed.investigator.email)
    assert (await enrolled.login()).status_code == SEE_OTHER  # enrols the authenticator
    pair = [StaffBrowser(app, clock, enrolled.email), StaffBrowser(second_app, clock, enrolled.email)]
    code = enrolled.code()
    forms = [{"email": enrolled.email, "password": STAFF_PASSWORD, "code": code, "csrf_token": await b.token()} for b in pair]
    responses = await asyncio.gather(*(b.client.post("/staff/login", data=f) for b, f in zip(pair, forms, strict=True)))
    assert sorted(r.status_code for r in responses) == [SEE_OTHER, 401]
    for browser in [enrolled, *pair]:
        await browser.aclose()


async def test_a_recovery_while_reports_arrive_leaves_every_case_readable_with_the_new_key(client, installed):
    """Reports filed while `speakup recover` re-keyed the Compliance Officer were sealed to the key
    it had just discarded. Filing holds a share lock on its readers' rows, so a recovery waits for
    it (and re-grants that case too), or the filing waits and seals to the new key."""
    from cases.accounts import unlock
    from cases.recovery import recover_staff
    from crypto import keys

    ctx = installed.ctx
    filings = [Reporter(client).file() for _ in range(16)]

    async def recover():
        await asyncio.sleep(0.01)  # once some filings are under way
        async with ctx.sessions() as session:
            return await recover_staff(
                session, ctx, installed.compliance_officer.email, installed.recovery_key, "a new long passphrase"
            )

    await asyncio.gather(*filings, recover())
    async with ctx.sessions() as session:
        staff = await session.get_one(Staff, installed.compliance_officer.id)
        grants = (await session.scalars(select(Grant).where(Grant.staff_id == staff.id))).all()
    private = await unlock(ctx, staff, "a new long passphrase")
    assert len(grants) == 16
    for grant in grants:  # every one opens with the new key
        keys.open_grant(grant.sealed_key, private)
        keys.open_grant(grant.staff_sealed_key, private)


async def test_the_site_wide_login_limit_is_shared_and_spares_known_browsers(app, second_app, installed, clock):
    """The limit was per process (two workers let twice as many through) and refused every login
    once junk filled it. It is counted in the database, and a browser that has logged in to its
    account before is not subject to it."""
    from dataclasses import replace

    for worker in (app, second_app):
        worker.state.ctx.settings = replace(worker.state.ctx.settings, login_failures_per_minute=3)
    officer = StaffBrowser(app, clock, installed.compliance_officer.email)
    assert (await officer.login()).status_code == SEE_OTHER  # enrols; no device cookie yet
    assert (await officer.login()).status_code == SEE_OTHER  # now this browser is known

    async def attempt(browser, password=STAFF_PASSWORD, code=""):  # without moving the clock, as login() does
        form = {"email": browser.email, "password": password, "code": code, "csrf_token": await browser.token()}
        return await browser.client.post("/staff/login", data=form)

    junk = [StaffBrowser(a, clock, f"nobody{n}@example.test") for n, a in enumerate((app, second_app, second_app, app))]
    codes = [(await attempt(b, "x" * 12)).status_code for b in junk]
    assert codes == [401, 401, 401, 429]  # three across both workers, then the site waits
    stranger = StaffBrowser(second_app, clock, installed.investigator.email)
    refused = await attempt(stranger)
    assert refused.status_code == 429 and refused.headers["retry-after"] == "60"
    assert (await attempt(officer, code=officer.code())).status_code == SEE_OTHER  # a known browser is let through
    clock.advance(seconds=61)
    assert (await attempt(stranger)).status_code == SEE_OTHER
    for browser in [officer, stranger, *junk]:
        await browser.aclose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_deadlock_the_database_breaks_answers_409_not_500(settings):
    """Should two requests ever lock rows in opposite orders, PostgreSQL rolls one back: that one
    is told to try again (409, nothing saved), not shown a 500."""
    import httpx
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError
    from starlette.applications import Starlette
    from starlette.routing import Route

    from cases.db import create_engine
    from web.handlers import exception_handlers, json_error

    engine = create_engine(settings.database_url)
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE pair (id int PRIMARY KEY)"))
        await connection.execute(text("INSERT INTO pair VALUES (1), (2)"))

    async def lock_in_order(first: int, second: int, ready: asyncio.Event, go: asyncio.Event) -> None:
        async with engine.begin() as connection:
            await connection.execute(text("SELECT 1 FROM pair WHERE id = :i FOR UPDATE"), {"i": first})
            ready.set()
            await go.wait()
            await connection.execute(text("SELECT 1 FROM pair WHERE id = :i FOR UPDATE"), {"i": second})

    async def racing(request):
        ready, go = asyncio.Event(), asyncio.Event()
        other = asyncio.create_task(lock_in_order(2, 1, asyncio.Event(), go))
        try:
            await asyncio.sleep(0.1)
            mine = asyncio.create_task(lock_in_order(1, 2, ready, go))
            await ready.wait()
            go.set()
            results = await asyncio.gather(mine, other, return_exceptions=True)
            raise next(r for r in results if isinstance(r, DBAPIError))
        finally:
            other.cancel()

    app = Starlette(routes=[Route("/race", racing)], exception_handlers=exception_handlers(json_error))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            response = await client.get("/race")
        assert (response.status_code, response.json()["error"]) == (409, "conflict")
    finally:
        await engine.dispose()


async def test_two_administrators_cannot_disable_the_last_two_committee_members_at_once(app, second_app, installed, twins):
    """Each checked that another member stayed active, on rows it had not locked: both went, and
    leadership reports reached nobody. The account change locks the accounts it decides on."""
    async with installed.ctx.sessions() as session:
        second = await create_staff(
            session, installed.ctx, email="member2@example.test", role="audit_committee", password=STAFF_PASSWORD
        )
        one_admin = await create_staff(session, installed.ctx, email="admin1@example.test", role="admin", password=STAFF_PASSWORD)
        other_admin = await create_staff(
            session, installed.ctx, email="admin2@example.test", role="admin", password=STAFF_PASSWORD
        )
    one, other = await twins(one_admin, other_admin)
    codes = await race(
        one.post(f"/staff/admin/staff/{installed.audit_committee.id}", {"change": "disable", "confirm": "yes"}),
        other.post(f"/staff/admin/staff/{second.id}", {"change": "disable", "confirm": "yes"}),
    )
    assert codes[0] == SEE_OTHER and codes[1] in REFUSED
    async with installed.ctx.sessions() as session:
        active = await session.scalar(
            select(func.count()).select_from(Staff).where(Staff.role == "audit_committee", Staff.active.is_(True))
        )
    assert active == 1


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_two_server_processes_acknowledging_at_once_change_the_status_once(database_url, tmp_path):
    """As deployed: two `speakup serve` processes on one PostgreSQL database, the same staff
    session acting through both at the same moment."""
    import re

    import httpx
    import pyotp

    from tests.conftest import Server, prepared_server

    first = await prepared_server(database_url, tmp_path, secure_cookies="false")
    second = Server(first.env)
    await first.start()
    await second.start()
    try:
        async with httpx.AsyncClient(base_url=first.base) as one, httpx.AsyncClient(base_url=second.base) as other:
            for _ in range(ROUNDS):
                filed = await one.post("/api/v1/reports", json={"category": "other", "summary": "s", "details": "d"})
                assert filed.status_code == 201, filed.text
            await one.get("/staff/login")
            form = {"email": "co@example.test", "password": STAFF_PASSWORD, "csrf_token": one.cookies["csrf"]}
            assert (await one.post("/staff/login", data=form)).headers["location"] == "/staff/enrol"
            secret = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', (await one.get("/staff/enrol")).text).group(1)
            code = pyotp.TOTP(secret.replace(" ", "")).now()
            assert (await one.post("/staff/enrol", data={"code": code, "csrf_token": one.cookies["csrf"]})).status_code == 303
            other.cookies.update(one.cookies)  # the same browser session, its requests reaching either process
            references = set(re.findall(r"/staff/cases/(\d{4}-[0-9A-Z]{4}-[0-9A-Z]{4})", (await one.get("/staff/")).text))
            assert len(references) == ROUNDS
            for reference in references:
                token = {"csrf_token": one.cookies["csrf"]}
                codes = sorted(
                    r.status_code
                    for r in await asyncio.gather(
                        one.post(f"/staff/cases/{reference}/acknowledge", data=token),
                        other.post(f"/staff/cases/{reference}/acknowledge", data=token),
                    )
                )
                assert codes == [SEE_OTHER, 409]
    finally:
        first.kill()
        second.kill()
