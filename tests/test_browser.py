"""The pages in a real browser: headless Chromium (Debian's package) driven by Playwright.

The reporter never has JavaScript. Screenshots of the reporter's pages go to
test-artifacts/screenshots/, those of the staff pages (at 1280 and 390 px) to
the test's tmp dir. axe-core (from the npm registry, tests/browser/) checks the
pages for serious accessibility problems; it is injected with the page's CSP
bypassed, since the CSP rightly allows no script at all.
"""

import os
import re
from pathlib import Path

import pyotp
import pytest

from tests.conftest import ROOT, STAFF_PASSWORD, prepared_server

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
AXE = ROOT / "tests" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ROOT / "test-artifacts" / "screenshots"

playwright_api = pytest.importorskip("playwright.async_api", reason="Playwright is not installed (pip install playwright)")
if not CHROMIUM.exists():
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium package")
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)


@pytest.fixture
async def site(tmp_path):
    """A real server (uvicorn, as `speakup serve` runs it) on loopback, over SQLite, with a Compliance Officer."""
    server = await prepared_server(f"sqlite+aiosqlite:///{tmp_path}/speakup.db", tmp_path, secure_cookies="false")
    await server.start()
    try:
        yield server.base
    finally:
        server.kill()


@pytest.fixture
async def browser():
    async with playwright_api.async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        await browser.close()


async def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SHOTS / f"{name}.png", full_page=True)


async def file_report(page, site: str) -> str:
    await page.goto(site + "/")
    await shot(page, "01-start")
    await page.click("text=Make a report")
    await page.select_option("#category", "third_party")
    await page.fill("#summary", "Distributor kickbacks")
    await page.fill("#details", "The distributor pays the procurement officer 5% of every order.")
    await page.fill("#country", "Kenya")
    await page.check("input[name=foreign_official_involved][value=yes]")
    await page.set_input_files("#attachments", files=[{"name": "invoice.txt", "mimeType": "text/plain", "buffer": b"INV-1"}])
    await shot(page, "02-report-form")
    await page.click("button:has-text('Send report')")
    await page.wait_for_selector(".receipt code")
    await shot(page, "03-receipt")
    return (await page.inner_text(".receipt code")).strip()


async def open_follow_up(page, site: str, receipt: str) -> None:
    await page.goto(site + "/follow-up")
    await page.fill("#receipt", receipt.lower().replace("-", " "))
    await page.click("button:has-text('Open my report')")
    await page.wait_for_selector("h1:has-text('Your report')")


async def test_reporter_flow_without_javascript(site, browser):
    context = await browser.new_context(java_script_enabled=False)
    page = await context.new_page()
    receipt = await file_report(page, site)
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}", receipt)
    await open_follow_up(page, site, receipt)
    assert "Distributor kickbacks" in await page.content() and "invoice.txt" in await page.content()
    await shot(page, "04-follow-up")
    await page.fill("#body", "Since I reported, I have been left out of every meeting.")
    await page.check("input[name=retaliation]")
    await page.click("button:has-text('Send')")
    await page.wait_for_selector("text=Your message was sent.")
    assert await page.locator(".message.retaliation .flag").count() == 1
    await shot(page, "05-retaliation-sent")
    await context.close()


async def test_staff_flow_then_the_reporter_reads_the_reply(site, browser):
    reporter = await browser.new_context(java_script_enabled=False)
    reporter_page = await reporter.new_page()
    receipt = await file_report(reporter_page, site)

    staff = await browser.new_context()
    page = await staff.new_page()
    await page.goto(site + "/staff/login")
    await page.fill("#email", "co@example.test")
    await page.fill("#password", STAFF_PASSWORD)
    await page.click("button:has-text('Log in')")
    await page.wait_for_selector("img.qr")
    await shot(page, "10-staff-enrol")
    secret = (await page.inner_text("code.secret")).replace(" ", "")
    await page.fill("#code", pyotp.TOTP(secret).now())
    await page.click("button:has-text('Confirm')")
    await page.wait_for_selector("h1:has-text('Cases')")
    await shot(page, "11-staff-cases")
    await page.click("table.cases a")
    await page.wait_for_selector("text=Distributor kickbacks")
    await page.click("button:has-text('Acknowledge receipt')")
    await page.wait_for_selector("text=Acknowledged; the reporter now sees the feedback date")
    await page.fill("#reply", "Thank you. Which orders do you mean?")
    await page.click("button:has-text('Send reply')")
    await page.wait_for_selector("text=Reply sent; the reporter reads it")
    await shot(page, "12-staff-case")

    await open_follow_up(reporter_page, site, receipt)
    content = await reporter_page.content()
    assert "Thank you. Which orders do you mean?" in content and "Acknowledged" in content
    await shot(reporter_page, "13-reporter-reads-reply")
    await staff.close()
    await reporter.close()


async def test_headers_the_browser_sees(site, browser):
    context = await browser.new_context(java_script_enabled=False)
    page = await context.new_page()
    for path in ("/", "/report", "/follow-up", "/staff/login", "/nowhere"):
        response = await page.goto(site + path)
        headers = await response.all_headers()
        assert "frame-ancestors 'none'" in headers["content-security-policy"], path
        assert "script-src" not in headers["content-security-policy"]
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["cache-control"] == "no-store"
        assert headers["x-content-type-options"] == "nosniff"
        assert "server" not in headers  # no software banner
    await context.close()


@pytest.mark.skipif(not AXE.exists(), reason="axe-core is not installed (npm install --prefix tests/browser)")
async def test_reporter_pages_have_no_serious_accessibility_problems(site, browser):
    context = await browser.new_context(bypass_csp=True)  # only to inject axe; the pages run no script of ours
    page = await context.new_page()
    found = {}
    for path in ("/", "/report", "/follow-up"):
        await page.goto(site + path)
        await page.add_script_tag(path=str(AXE))
        result = await page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
        serious = [v["id"] for v in result["violations"] if v["impact"] in ("serious", "critical")]
        if serious:
            found[path] = serious
    assert found == {}
    await context.close()


# The staff pages at desktop and phone width: no sideways scrolling of the page, no serious
# accessibility problem (axe), a screenshot of each under the test's tmp dir.

WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}


async def _staff_data(database_url: str, tmp_path) -> dict:
    """An administrator, and two cases (one confidential, one with a retaliation flag), through the domain."""
    from datetime import UTC, datetime

    from sqlalchemy import select

    from cases.accounts import create_staff
    from cases.context import Context
    from cases.filing import file_report, parse_report
    from cases.models import Case
    from cases.retaliation import open_flag
    from cases.settings import Settings
    from tests.conftest import CHEAP_ARGON2

    ctx = Context(Settings(database_url=database_url, data_dir=tmp_path, argon2=CHEAP_ARGON2))
    try:
        async with ctx.sessions() as session:
            await create_staff(session, ctx, email="admin@example.test", role="admin", password=STAFF_PASSWORD)
        references: list[str] = []  # the confidential case's, then the flagged one's
        for report in (
            {
                "category": "third_party",
                "summary": "Distributor kickbacks to a procurement officer at the state utility",
                "details": "The distributor pays the procurement officer 5% of every order, in cash, monthly.",
                "identity": {"name": "Ana Example", "contact": "ana@example.org"},
            },
            {"category": "gifts_hospitality", "summary": "Trip to Paris for two customs officials", "details": "x" * 60},
        ):
            async with ctx.sessions() as session:
                await file_report(session, ctx, parse_report(report), [], ctx.today())
            async with ctx.sessions() as session:  # references are random: the new one is the one not seen yet
                references += set((await session.scalars(select(Case.reference))).all()) - set(references)
        async with ctx.sessions() as session:
            flagged = await session.scalar(select(Case.id).where(Case.reference == references[-1]))
        async with ctx.sessions() as session, session.begin():
            await open_flag(session, ctx.settings, flagged, "hr_match", datetime.now(UTC), form="demotion", action_on=ctx.today())
    finally:
        await ctx.close()
    return {"references": references}


@pytest.fixture
async def staff_site(tmp_path):
    """The site with a Compliance Officer, an administrator and two cases, one of them flagged."""
    url = f"sqlite+aiosqlite:///{tmp_path}/speakup.db"
    server = await prepared_server(url, tmp_path, secure_cookies="false")
    data = await _staff_data(url, tmp_path)
    await server.start()
    try:
        yield server.base, data
    finally:
        server.kill()


async def staff_login(page, site: str, email: str) -> None:
    """A first login: password, then the authenticator enrolled from the page."""
    await page.goto(site + "/staff/login")
    await page.fill("#email", email)
    await page.fill("#password", STAFF_PASSWORD)
    await page.click("button:has-text('Log in')")
    await page.wait_for_selector("code.secret")
    secret = (await page.inner_text("code.secret")).replace(" ", "")
    await page.fill("#code", pyotp.TOTP(secret).now())
    await page.click("button:has-text('Confirm')")
    await page.wait_for_load_state()


async def check_page(page, url: str, name: str, shots: Path) -> dict:
    """The page at each width: its overflow (page body wider than the window) and axe's serious findings."""
    found = {}
    for width_name, (width, height) in WIDTHS.items():
        await page.set_viewport_size({"width": width, "height": height})
        response = await page.goto(url)
        assert response.status == 200, (url, response.status)
        await page.screenshot(path=shots / f"{name}-{width_name}.png", full_page=True)
        overflow = await page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        await page.add_script_tag(path=str(AXE))
        result = await page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
        serious = sorted({v["id"] for v in result["violations"] if v["impact"] in ("serious", "critical")})
        if overflow > 0 or serious:
            found[f"{name} at {width}px"] = {"overflow px": overflow, "axe": serious}
    return found


@pytest.mark.skipif(not AXE.exists(), reason="axe-core is not installed (npm install --prefix tests/browser)")
async def test_staff_pages_fit_a_phone_and_pass_axe(staff_site, browser, tmp_path):
    site, data = staff_site
    shots = tmp_path / "screenshots"
    shots.mkdir()
    context = await browser.new_context(bypass_csp=True)  # only to inject axe
    page = await context.new_page()
    await staff_login(page, site, "co@example.test")
    reference = data["references"][0]
    # A step, its sentence, and a reveal (post/redirect/get) on the case page first.
    await page.goto(f"{site}/staff/cases/{reference}")
    await page.click("button:has-text('Acknowledge receipt')")
    await page.wait_for_selector("text=Acknowledged; the reporter now sees the feedback date")
    await page.fill("#reason", "arrange an interview")
    await page.click("button:has-text('Reveal the name and contact')")
    await page.wait_for_selector("text=Ana Example")
    assert page.url.endswith("?done=reveal")
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.locator("section.timeline").screenshot(path=shots / "case-timeline-phone.png")
    found = {}
    for name, path in (
        ("case-list", "/staff/"),
        ("case-page", f"/staff/cases/{reference}"),
        ("flags", "/staff/flags"),
        ("team", "/staff/team"),
        ("remediation", "/staff/remediation"),
    ):
        found.update(await check_page(page, site + path, name, shots))
    admin = await browser.new_context(bypass_csp=True)
    admin_page = await admin.new_page()
    await staff_login(admin_page, site, "admin@example.test")
    for name, path in (("accounts", "/staff/admin"), ("admin-lists", "/staff/admin/lists")):
        found.update(await check_page(admin_page, site + path, name, shots))
    assert found == {}
    await admin.close()
    await context.close()


@pytest.mark.skipif(not AXE.exists(), reason="axe-core is not installed (npm install --prefix tests/browser)")
async def test_the_dashboard_and_the_complaint_register_fit_a_phone_and_pass_axe(browser, tmp_path):
    from types import SimpleNamespace

    from sqlalchemy import select

    from cases.accounts import create_staff
    from cases.context import Context
    from cases.models import Staff
    from cases.settings import Settings
    from tests.conftest import CHEAP_ARGON2
    from tests.test_dashboard import build

    url = f"sqlite+aiosqlite:///{tmp_path}/speakup.db"
    server = await prepared_server(url, tmp_path, secure_cookies="false")
    ctx = Context(Settings(database_url=url, data_dir=tmp_path, argon2=CHEAP_ARGON2))
    try:
        async with ctx.sessions() as session:
            officer = await session.scalar(select(Staff).where(Staff.email == "co@example.test"))
        staff = {}
        for role in ("audit_committee", "investigator"):
            async with ctx.sessions() as session:
                staff[role] = await create_staff(session, ctx, email=f"{role}@example.test", role=role, password=STAFF_PASSWORD)
        await build(SimpleNamespace(ctx=ctx, compliance_officer=officer, **staff))
    finally:
        await ctx.close()
    await server.start()
    try:
        shots = tmp_path / "screenshots"
        shots.mkdir()
        context = await browser.new_context(bypass_csp=True)  # only to inject axe
        page = await context.new_page()
        await staff_login(page, server.base, "audit_committee@example.test")
        found = await check_page(page, server.base + "/staff/dashboard?from=2026-Q2&to=2026-Q4", "dashboard", shots)
        found.update(await check_page(page, server.base + "/staff/complaints", "complaints", shots))
        assert found == {}
        await context.close()
    finally:
        server.kill()
