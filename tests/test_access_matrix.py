"""Every staff route x every role x with and without a grant: exactly the allowed answers.

A case the staff member holds no grant for answers 404 (its existence is not
confirmed); a role that may not take a step answers 403; neither shows content.
"""

import pytest
from sqlalchemy import select

from cases.accounts import create_staff
from cases.models import Attachment, Case
from tests.conftest import STAFF_PASSWORD, Reporter, StaffBrowser

CANARY = "MatrixCanary7f3e"
OK, SEE_OTHER = 200, 303

# (method, path, form) for routes on a case; {ref} and {file} are filled in.
CASE_ROUTES = {
    "view": ("GET", "/staff/cases/{ref}", None),
    "download": ("GET", "/staff/cases/{ref}/attachments/{file}", None),
    "reveal": ("POST", "/staff/cases/{ref}/reveal", {"reason": "to interview"}),
    "reply": ("POST", "/staff/cases/{ref}/reply", {"body": "a question"}),
    "note": ("POST", "/staff/cases/{ref}/note", {"body": "a note"}),
    "acknowledge": ("POST", "/staff/cases/{ref}/acknowledge", {}),
    "assign": ("POST", "/staff/cases/{ref}/assign", {"assignee": "{investigator}"}),
    "investigate": ("POST", "/staff/cases/{ref}/investigate", {}),
    "recuse": ("POST", "/staff/cases/{ref}/recuse", {}),
    "escalate": ("POST", "/staff/cases/{ref}/escalate", {"reason": "needs the committee"}),
    "take-over": ("POST", "/staff/cases/{ref}/take-over", {"assignee": "{investigator}"}),
    "protect": ("POST", "/staff/cases/{ref}/protect", {"employee_id": "E-1", "name": "W", "role": "witness"}),
}
ALL_CASE_ROLES = {"view": OK, "download": OK, "reveal": OK, "reply": SEE_OTHER, "note": SEE_OTHER, "recuse": SEE_OTHER}
MANAGING = {
    "acknowledge": SEE_OTHER,
    "assign": SEE_OTHER,
    "investigate": 409,  # investigate: not yet acknowledged
    "protect": SEE_OTHER,
}
OFFICER_ONLY = {"escalate": SEE_OTHER}
COMMITTEE_ONLY = {"take-over": SEE_OTHER}
NONE = {k: 403 for k in {**MANAGING, **OFFICER_ONLY, **COMMITTEE_ONLY}}

EXPECTED_WITH_GRANT = {
    "compliance_officer": {**ALL_CASE_ROLES, **NONE, **MANAGING, **OFFICER_ONLY},
    "audit_committee": {**ALL_CASE_ROLES, **NONE, **MANAGING, **COMMITTEE_ONLY},
    "investigator": {**ALL_CASE_ROLES, **NONE},
    "admin": {k: 403 for k in CASE_ROUTES},
}


def expected(role: str, action: str, granted: bool) -> int:
    answer = EXPECTED_WITH_GRANT[role][action]
    if not granted and answer != 403:  # role allows it, but no grant: not found
        return 404
    return answer


@pytest.fixture
async def world(app, installed, client, clock):
    """Two cases: one every case role holds, one nobody in the matrix holds."""
    ctx = installed.ctx
    async with ctx.sessions() as session:
        admin = await create_staff(session, ctx, email="admin@example.test", role="admin", password=STAFF_PASSWORD)
    async with ctx.sessions() as session:
        helper = await create_staff(session, ctx, email="helper@example.test", role="compliance_officer", password=STAFF_PASSWORD)
    reporter = Reporter(client)
    files = [("attachments", ("evidence.txt", CANARY.encode(), "text/plain"))]
    await reporter.file({"details": CANARY}, files=files)  # the shared case
    await reporter.file({"details": CANARY}, files=files)  # the other case
    async with ctx.sessions() as session:
        shared, other = (await session.scalars(select(Case).order_by(Case.id))).all()
        file_ids = {
            c.id: (await session.scalars(select(Attachment.id).where(Attachment.case_id == c.id))).one() for c in (shared, other)
        }

    # The shared case: the officers give it to the committee member and the investigator.
    officer = StaffBrowser(app, clock, installed.compliance_officer.email)
    await officer.login()
    await officer.post(f"/staff/cases/{shared.reference}/assign", {"assignee": installed.audit_committee.id})
    await officer.post(f"/staff/cases/{shared.reference}/assign", {"assignee": installed.investigator.id})
    # The other case: only the helper officer holds it (the matrix officer recuses).
    await officer.post(f"/staff/cases/{other.reference}/assign", {"assignee": helper.id})
    await officer.post(f"/staff/cases/{other.reference}/recuse")
    await officer.aclose()
    people = {
        "compliance_officer": installed.compliance_officer,
        "audit_committee": installed.audit_committee,
        "investigator": installed.investigator,
        "admin": admin,
    }
    return {"shared": shared, "other": other, "files": file_ids, "people": people, "investigator": installed.investigator}


@pytest.mark.parametrize("granted", [True, False], ids=["granted", "ungranted"])
@pytest.mark.parametrize("role", ["compliance_officer", "audit_committee", "investigator", "admin"])
@pytest.mark.parametrize("action", list(CASE_ROUTES))
async def test_case_routes(app, clock, world, role, action, granted):
    case = world["shared"] if granted else world["other"]
    method, path, form = CASE_ROUTES[action]
    path = path.format(ref=case.reference, file=world["files"][case.id])
    if form:
        form = {k: v.format(investigator=world["investigator"].id) for k, v in form.items()}
    browser = StaffBrowser(app, clock, world["people"][role].email)
    try:
        assert (await browser.login()).status_code == SEE_OTHER
        response = await (browser.get(path) if method == "GET" else browser.post(path, form))
        assert response.status_code == expected(role, action, granted), response.text[:300]
        if response.status_code in (403, 404):  # refused: nothing of the case shows
            assert CANARY not in response.text
    finally:
        await browser.aclose()


# Routes not about one case: who may open them.
SITE_ROUTES = {
    ("GET", "/staff/"): {"compliance_officer": OK, "audit_committee": OK, "investigator": OK, "admin": SEE_OTHER},
    ("GET", "/staff/team"): {"compliance_officer": OK, "audit_committee": OK, "investigator": 403, "admin": 403},
    ("GET", "/staff/admin"): {"compliance_officer": 403, "audit_committee": 403, "investigator": 403, "admin": OK},
    ("GET", "/staff/audit"): {"compliance_officer": 403, "audit_committee": OK, "investigator": 403, "admin": OK},
    ("GET", "/staff/password"): {"compliance_officer": OK, "audit_committee": OK, "investigator": OK, "admin": OK},
    ("GET", "/staff/flags"): {"compliance_officer": OK, "audit_committee": OK, "investigator": OK, "admin": 403},
    ("GET", "/staff/register"): {"compliance_officer": 403, "audit_committee": OK, "investigator": 403, "admin": 403},
    ("GET", "/staff/register.csv"): {"compliance_officer": 403, "audit_committee": OK, "investigator": 403, "admin": 403},
}


@pytest.mark.parametrize("role", ["compliance_officer", "audit_committee", "investigator", "admin"])
async def test_site_routes(app, clock, world, role):
    browser = StaffBrowser(app, clock, world["people"][role].email)
    try:
        await browser.login()
        for (method, path), allowed in SITE_ROUTES.items():
            response = await browser.get(path)
            assert response.status_code == allowed[role], (path, role)
        staff_id = world["investigator"].id
        posts = {
            f"/staff/admin/staff/{staff_id}": ({"change": "disable"}, {"admin": SEE_OTHER}),
            "/staff/admin": ({"email": "x@example.test", "role": "admin", "password": "x" * 14}, {"admin": OK}),
            "/staff/team": (
                {"leaver": str(staff_id), "successor": str(staff_id)},
                {"compliance_officer": 422, "audit_committee": 422},
            ),  # allowed, but not to themselves
        }
        for path, (form, allowed) in posts.items():
            response = await browser.post(path, form)
            assert response.status_code == allowed.get(role, 403), (path, role)
    finally:
        await browser.aclose()


STAFF_ROUTES = [
    ("GET", "/staff/"),
    ("GET", "/staff/cases/{ref}"),
    ("GET", "/staff/cases/{ref}/attachments/{file}"),
    ("POST", "/staff/cases/{ref}/reveal"),
    ("POST", "/staff/cases/{ref}/acknowledge"),
    ("GET", "/staff/team"),
    ("POST", "/staff/team"),
    ("GET", "/staff/admin"),
    ("POST", "/staff/admin"),
    ("POST", "/staff/admin/staff/1"),
    ("GET", "/staff/audit"),
    ("GET", "/staff/password"),
    ("POST", "/staff/password"),
    ("GET", "/staff/flags"),
    ("POST", "/staff/flags/1"),
    ("GET", "/staff/register"),
    ("GET", "/staff/register.csv"),
    ("POST", "/staff/digest"),
]


@pytest.mark.parametrize(("method", "path"), STAFF_ROUTES)
async def test_without_login_every_staff_route_sends_to_the_login_page(client, world, method, path):
    path = path.format(ref=world["shared"].reference, file=world["files"][world["shared"].id])
    response = await client.request(method, path)
    assert (response.status_code, response.headers.get("location")) == (303, "/staff/login")
    assert CANARY not in response.text


@pytest.mark.parametrize("path", [p for m, p in STAFF_ROUTES if m == "POST"] + ["/staff/cases/{ref}/reply", "/staff/logout"])
async def test_every_state_changing_route_needs_the_csrf_token(app, clock, world, path):
    path = path.format(ref=world["shared"].reference)
    browser = StaffBrowser(app, clock, world["people"]["compliance_officer"].email)
    try:
        await browser.login()
        response = await browser.client.post(path, data={"body": "x", "reason": "xxxxxx", "csrf_token": "forged"})
        assert response.status_code == 403
        assert "__Host-speakup" in browser.client.cookies  # not even logout happened
    finally:
        await browser.aclose()


def test_the_matrix_covers_every_staff_route():
    """A new staff route must join the matrix (login, enrolment and logout are tested in test_staff_auth)."""
    from staff.routes import routes

    tested = [p for _, p, _ in CASE_ROUTES.values()] + [p for _, p in STAFF_ROUTES] + [p for _, p in SITE_ROUTES]
    tested += ["/staff/login", "/staff/enrol", "/staff/logout"]
    concrete = [p.format(ref="2026-0001", file=1).removeprefix("/staff") or "/" for p in tested]
    for route in routes:
        assert any(route.path_regex.match(path) for path in concrete), f"/staff{route.path} is not in the access matrix"
