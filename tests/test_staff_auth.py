"""Staff login with a second factor, sessions, passwords and accounts."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from cases.accounts import create_staff
from cases.models import AuditEntry, Staff, StaffSession
from tests.conftest import STAFF_PASSWORD, StaffBrowser, count_rows

GENERIC = "The e-mail address, password or code is not right."


async def test_first_login_enrols_a_second_factor_then_codes_are_required(app, installed, clock):
    browser = StaffBrowser(app, clock, installed.compliance_officer.email)
    first = await browser.client.post(
        "/staff/login", data={"email": browser.email, "password": STAFF_PASSWORD, "csrf_token": await browser.token()}
    )
    assert (first.status_code, first.headers["location"]) == (303, "/staff/enrol")
    page = (await browser.get("/staff/enrol")).text
    assert 'src="data:image/svg+xml;base64,' in page and '<code class="secret">' in page
    browser.totp_secret = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', page).group(1).replace(" ", "")
    wrong = await browser.post("/staff/enrol", {"code": "000000" if browser.code() != "000000" else "111111"})
    assert wrong.status_code == 422 and "not right" in wrong.text
    done = await browser.post("/staff/enrol", {"code": browser.code()})
    assert (done.status_code, done.headers["location"]) == (303, "/staff/")
    assert (await browser.get("/staff/")).status_code == 200
    clock.advance(seconds=30)
    # From now on the password alone is not enough.
    other = StaffBrowser(app, clock, browser.email)
    without_code = await other.client.post(
        "/staff/login", data={"email": browser.email, "password": STAFF_PASSWORD, "csrf_token": await other.token()}
    )
    assert without_code.status_code == 401 and GENERIC in without_code.text
    await browser.aclose(), await other.aclose()


@pytest.mark.parametrize("mistake", ["password", "code", "email"])
async def test_every_wrong_login_gets_the_same_generic_answer(browsers, app, installed, clock, mistake):
    browser = await browsers(installed.compliance_officer)
    attempt = StaffBrowser(app, clock, "nobody@example.test" if mistake == "email" else browser.email)
    attempt.totp_secret = browser.totp_secret
    code = {"code": "000000" if browser.code() != "000000" else "111111"}.get(mistake)
    response = await attempt.login(code=code, password="wrong password!" if mistake == "password" else None)
    assert response.status_code == 401
    assert GENERIC in response.text
    assert "__Host-speakup" not in attempt.client.cookies
    await attempt.aclose()


async def test_a_code_is_good_only_once(browsers, app, installed, clock):
    browser = await browsers(installed.compliance_officer)
    clock.advance(seconds=30)
    code = browser.code()
    first = StaffBrowser(app, clock, browser.email)
    first.totp_secret = browser.totp_secret
    assert (
        await first.client.post(
            "/staff/login",
            data={"email": browser.email, "password": STAFF_PASSWORD, "code": code, "csrf_token": await first.token()},
        )
    ).status_code == 303
    replay = StaffBrowser(app, clock, browser.email)
    response = await replay.client.post(
        "/staff/login",
        data={"email": browser.email, "password": STAFF_PASSWORD, "code": code, "csrf_token": await replay.token()},
    )
    assert response.status_code == 401
    await first.aclose(), await replay.aclose()


async def test_account_locks_after_five_failures_then_unlocks(browsers, app, installed, clock):
    browser = await browsers(installed.compliance_officer)
    for _ in range(5):
        assert (await browser.login(password="wrong password!")).status_code == 401
    # Even the right password and code are refused while locked, with the same answer.
    locked = await browser.login()
    assert locked.status_code == 401 and GENERIC in locked.text
    clock.advance(minutes=5)
    assert (await browser.login()).status_code == 303


async def test_guesses_from_elsewhere_cannot_keep_a_staff_member_out_of_their_own_browser(browsers, app, installed, clock):
    """Six anonymous requests locked the Compliance Officer out for an hour, renewable, and nobody
    could lift it. Guesses now lock the account for browsers never used with it; the officer's
    own browser (its device cookie) keeps its allowance, and an administrator can lift the lock."""
    officer = await browsers(installed.compliance_officer)  # has logged in here before
    assert "__Host-speakup-device" in officer.client.cookies
    attacker = StaffBrowser(app, clock, installed.compliance_officer.email, password="a guessed password")
    for _ in range(7):
        assert (await attacker.login(code="000000")).status_code == 401
    new_browser = StaffBrowser(app, clock, installed.compliance_officer.email)  # the right password and code
    assert (await new_browser.login()).status_code == 401  # locked, for browsers not used here before
    assert (await officer.login()).status_code == 303  # but not for the officer's own
    async with installed.ctx.sessions() as session:
        admin = await create_staff(session, installed.ctx, email="admin@example.test", role="admin", password=STAFF_PASSWORD)
    administrator = await browsers(admin)
    lifted = await administrator.post(f"/staff/admin/staff/{installed.compliance_officer.id}", {"change": "unlock"})
    assert lifted.status_code == 303
    assert (await new_browser.login()).status_code == 303
    async with installed.ctx.sessions() as session:
        details = (await session.scalars(select(AuditEntry.detail).where(AuditEntry.action == "staff.changed"))).all()
    assert f"staff {installed.compliance_officer.id}: login locks lifted" in details
    for browser in (attacker, new_browser):
        await browser.aclose()


async def test_login_rotates_the_session_and_logout_ends_it(browsers, installed):
    browser = await browsers(installed.compliance_officer)
    before = browser.client.cookies["__Host-speakup"]
    await browser.login()
    after = browser.client.cookies["__Host-speakup"]
    assert before != after
    response = await browser.post("/staff/logout")
    assert response.status_code == 303
    assert "__Host-speakup" not in browser.client.cookies
    browser.client.cookies.set("__Host-speakup", after, domain="speakup.test")
    assert (await browser.get("/staff/")).headers["location"] == "/staff/login"
    browser.client.cookies.set("__Host-speakup", before, domain="speakup.test")
    assert (await browser.get("/staff/")).headers["location"] == "/staff/login"


@pytest.mark.backend_agnostic
async def test_session_cookie_flags(app, installed, clock):
    browser = StaffBrowser(app, clock, installed.compliance_officer.email)
    await browser.token()
    await browser.client.post(
        "/staff/login", data={"email": browser.email, "password": STAFF_PASSWORD, "csrf_token": await browser.token()}
    )
    page = await browser.get("/staff/enrol")
    browser.totp_secret = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', page.text).group(1).replace(" ", "")
    response = await browser.post("/staff/enrol", {"code": browser.code()})
    cookies = {c.split("=", 1)[0]: c.lower() for c in response.headers.get_list("set-cookie")}
    for cookie in cookies.values():
        for flag in ("httponly", "secure", "samesite=strict", "path=/"):
            assert flag in cookie
    # The session dies with the browser; the device cookie is kept (it only holds a login allowance).
    assert "expires" not in cookies["__Host-speakup"] and "max-age" not in cookies["__Host-speakup"]
    assert "max-age=15552000" in cookies["__Host-speakup-device"]
    await browser.aclose()


async def test_sessions_end_after_thirty_idle_minutes(browsers, installed, clock):
    browser = await browsers(installed.compliance_officer)
    clock.advance(minutes=29)
    assert (await browser.get("/staff/")).status_code == 200  # activity keeps it alive
    clock.advance(minutes=29)
    assert (await browser.get("/staff/")).status_code == 200
    clock.advance(minutes=31)
    response = await browser.get("/staff/")
    assert (response.status_code, response.headers["location"]) == (303, "/staff/login")
    assert await count_rows(installed.ctx, StaffSession) == 0


async def test_the_worker_purges_expired_sessions_whose_cookie_never_comes_back(browsers, installed, clock):
    """Each row holds a staff private key sealed under its cookie's secret: once expired it must
    not wait in the table (and in every backup) for that cookie to come back."""
    from sqlalchemy import update

    from cases.auth import ABSOLUTE_LIFETIME
    from cases.worker import run_jobs

    ctx = installed.ctx
    idle = await browsers(installed.compliance_officer)
    active = await browsers(installed.audit_committee)
    await browsers(installed.investigator)
    clock.advance(minutes=20)
    assert (await active.get("/staff/")).status_code == 200
    clock.advance(minutes=15)  # the first is now over 35 minutes idle, the second 15
    async with ctx.sessions() as session, session.begin():  # the third: used a minute ago, logged in over 12 hours ago
        await session.execute(
            update(StaffSession)
            .where(StaffSession.staff_id == installed.investigator.id)
            .values(created_at=clock() - ABSOLUTE_LIFETIME - timedelta(minutes=1), last_seen_at=clock() - timedelta(minutes=1))
        )
    assert await count_rows(ctx, StaffSession) == 3  # no cookie came back: every row is still there
    await run_jobs(ctx)  # the worker's periodic jobs (`speakup worker`, or inside the web process)
    async with ctx.sessions() as session:
        left = (await session.scalars(select(StaffSession.staff_id))).all()
    assert left == [installed.audit_committee.id]
    assert (await active.get("/staff/")).status_code == 200
    assert (await idle.get("/staff/")).headers["location"] == "/staff/login"


async def test_a_login_purges_other_expired_sessions(browsers, installed, clock):
    ctx = installed.ctx
    await browsers(installed.compliance_officer)
    clock.advance(minutes=31)
    await browsers(installed.audit_committee)
    async with ctx.sessions() as session:
        assert (await session.scalars(select(StaffSession.staff_id))).all() == [installed.audit_committee.id]


async def test_a_session_ends_twelve_hours_after_login_however_active(browsers, installed, clock):
    browser = await browsers(installed.compliance_officer)  # the login leaves the clock 30 seconds on
    for _ in range(28):  # 11 h 40 min of steady work
        clock.advance(minutes=25)
        assert (await browser.get("/staff/")).status_code == 200
    clock.advance(minutes=19)  # 11:59:30 after login
    assert (await browser.get("/staff/")).status_code == 200
    clock.advance(minutes=1)  # 12:00:30 after login, used a minute ago
    response = await browser.get("/staff/")
    assert (response.status_code, response.headers["location"]) == (303, "/staff/login")
    assert await count_rows(installed.ctx, StaffSession) == 0
    assert (await browser.login()).status_code == 303  # a new login starts a new lifetime
    assert (await browser.get("/staff/")).status_code == 200


async def test_password_change_rewraps_the_key_and_ends_every_session(browsers, app, installed, clock):
    browser = await browsers(installed.compliance_officer)
    second = StaffBrowser(app, clock, browser.email)
    second.totp_secret = browser.totp_secret
    await second.login()
    response = await browser.post(
        "/staff/password",
        {
            "current_password": STAFF_PASSWORD,
            "new_password": "a brand new passphrase",
            "repeat_password": "a brand new passphrase",
        },
    )
    assert response.status_code == 303  # post/redirect/get: the login page says it
    assert "Password changed" in (await browser.get(response.headers["location"])).text
    assert await count_rows(installed.ctx, StaffSession) == 0
    assert (await second.get("/staff/")).headers["location"] == "/staff/login"
    assert (await browser.login()).status_code == 401  # the old password is gone
    assert (await browser.login(password="a brand new passphrase")).status_code == 303
    await second.aclose()


async def test_wrong_current_password_changes_nothing(browsers, installed):
    browser = await browsers(installed.compliance_officer)
    response = await browser.post(
        "/staff/password", {"current_password": "not it at all", "new_password": "x" * 14, "repeat_password": "x" * 14}
    )
    assert response.status_code == 422 and "not your current password" in response.text
    assert (await browser.get("/staff/")).status_code == 200


async def test_administrator_creates_disables_and_resets_accounts(browsers, app, installed, clock):
    ctx = installed.ctx
    async with ctx.sessions() as session:
        from cases.accounts import create_staff

        admin = await create_staff(session, ctx, email="admin@example.test", role="admin", password=STAFF_PASSWORD)
    browser = await browsers(admin)
    created = await browser.post(
        "/staff/admin", {"email": "new@example.test", "role": "investigator", "password": "initial password 1"}
    )
    assert created.status_code == 303  # post/redirect/get
    assert "Account created" in (await browser.get(created.headers["location"])).text
    async with ctx.sessions() as session:
        new = await session.scalar(select(Staff).where(Staff.email == "new@example.test"))
    newcomer = StaffBrowser(app, clock, new.email, "initial password 1")
    assert (await newcomer.login()).status_code == 303

    assert (await browser.post(f"/staff/admin/staff/{new.id}", {"change": "disable", "confirm": "yes"})).status_code == 303
    assert (await newcomer.get("/staff/")).headers["location"] == "/staff/login"  # the session ended
    assert (await newcomer.login()).status_code == 401
    assert (await browser.post(f"/staff/admin/staff/{new.id}", {"change": "enable"})).status_code == 303
    assert (await browser.post(f"/staff/admin/staff/{new.id}", {"change": "reset_second_factor"})).status_code == 303
    newcomer.totp_secret = None
    relogin = await newcomer.login()  # enrols again
    assert relogin.status_code == 303 and relogin.headers["location"] == "/staff/"
    assert (await browser.post(f"/staff/admin/staff/{new.id}", {"change": "role", "role": "audit_committee"})).status_code == 303
    async with ctx.sessions() as session:
        assert await session.scalar(select(Staff.role).where(Staff.id == new.id)) == "audit_committee"
        assert await session.scalar(select(func.count()).select_from(StaffSession).where(StaffSession.staff_id == new.id)) == 0
    await newcomer.aclose()


async def test_administrator_cannot_lock_themselves_out(browsers, installed):
    ctx = installed.ctx
    async with ctx.sessions() as session:
        from cases.accounts import create_staff

        admin = await create_staff(session, ctx, email="admin@example.test", role="admin", password=STAFF_PASSWORD)
    browser = await browsers(admin)
    response = await browser.post(f"/staff/admin/staff/{admin.id}", {"change": "disable", "confirm": "yes"})
    assert response.status_code == 422


@pytest.mark.backend_agnostic
async def test_the_staff_site_without_its_slash_leads_to_the_login(client):
    response = await client.get("/staff")
    assert (response.status_code, response.headers["location"]) == (307, "/staff/")
    response = await client.get("/staff/")
    assert (response.status_code, response.headers["location"]) == (303, "/staff/login")


@pytest.mark.backend_agnostic
async def test_an_unknown_staff_page_is_a_staff_page_not_the_reporters(client):
    response = await client.get("/staff/no-such-page")
    assert response.status_code == 404
    assert '<body class="staff">' in response.text and "Speakup staff" in response.text
