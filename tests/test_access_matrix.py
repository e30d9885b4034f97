"""Every staff route x every role x with and without a grant: exactly the allowed answers.

A case the staff member holds no grant for answers 404 (its existence is not
confirmed); a role that may not take a step answers 403; neither shows content.
A role that may take a step on a case it holds, in a state that does not allow
the step, gets 409. The steps are the case page's action table
(``staff.case_pages.ACTIONS``) with reading, downloading and revealing; the
expected answers are written out below, as the specification.

The world (staff, two cases, their grants) is built once per backend and each
test gets its own copy of it (``database_templates`` in conftest.py).
"""

import copy

import httpx
import pytest

from cases.accounts import create_staff
from cases.installation import initialise
from staff.case_pages import ACTIONS
from tests.conftest import CLIENT_ADDRESS, STAFF_PASSWORD, USER_AGENT, Reporter, StaffBrowser, case_for

CANARY = "MatrixCanary7f3e"
OK, SEE_OTHER, WRONG_STATUS = 200, 303, 409
ROLES = ("compliance_officer", "audit_committee", "investigator", "admin")

# Reading a case: routes of their own, beside the case page's actions.
READING_ROUTES = {
    "view": ("GET", "/staff/cases/{ref}", None),
    "download": ("GET", "/staff/cases/{ref}/attachments/{file}", None),
    "reveal": ("POST", "/staff/cases/{ref}/reveal", {"reason": "to interview"}),
    "export": ("GET", "/staff/cases/{ref}/export.pdf", None),
}
# The export with the reporter's identity: a route of its own, taken by the "export" and "reveal" steps together.
IDENTITY_EXPORT = ("POST", "/staff/cases/{ref}/export.pdf", {"export_reason": "for outside counsel's interview"})
# A form for every action of the case page, each valid in itself, so that the answer is
# about who asks and the case's state, never about the input. {investigator} and
# {helper} are filled in with staff ids (the helper is an officer outside the matrix).
FORMS = {
    "acknowledge": {},
    "reply": {"body": "a question"},
    "note": {"body": "a note"},
    "assign": {"assignee": "{investigator}"},
    "recuse": {"confirm": "yes"},
    "investigate": {},
    "conclude": {"outcome": "unsubstantiated", "narrative": "Nothing was found to support the report."},
    "close": {"closure": "withdrawn", "message": "As you asked, we closed your report.", "confirm": "yes"},
    "assess": {
        "admissibility": "in_scope",
        "priority": "medium",
        "detriment_risk": "low",
        "allegations": "official_bribery",
        "plan": "Interview the agent.",
        "investigation_due": "2099-12-31",
    },
    "link": {"other_case": "{linkable}", "link_kind": "related"},
    "remediate": {"what": "Require two signatures on agent fees", "owner": "Finance EMEA", "due_on": "2099-12-31"},
    "update-remediation": {"number": "1", "status": "in_progress", "evidence": ""},
    "minutes": {"kind": "call", "held_on": "2026-01-01", "text": "We spoke about the payment."},
    "escalate": {"reason": "needs the committee"},
    "return": {"instructions": "interview the agent first"},
    "take-over": {"assignee": "{investigator}"},
    "implicate": {"staff": "{helper}"},
    "override": {"staff": "{investigator}", "reason": "the conflict was cleared"},
    "discipline": {
        "subject": "The agent",
        "subject_role": "Customs agent",
        "subject_type": "employee",
        "action": "training",
        "effective_on": "2026-01-01",
        "decided_by": "HR",
        "notes": "",
    },
    "protect": {"employee_id": "E-1", "name": "W", "role": "witness"},
    "disclose": {
        "recipient": "The public prosecutor",
        "basis": "judicial_proceedings",
        "explanation": "The court ordered us to give your name to the prosecutor.",
    },
}
# (method, path, form) for every route on a case, from the action table itself:
# a new action without a form here fails its tests (and test_every_action_is_in_the_matrix).
CASE_ROUTES = {
    **READING_ROUTES,
    "export-with-identity": IDENTITY_EXPORT,
    **{action: ("POST", f"/staff/cases/{{ref}}/{action}", FORMS.get(action)) for action in ACTIONS},
}

# The answer to each role on the shared case, which it holds (the admin holds nothing and
# may take no step), while that case is "received": assigned, not yet acknowledged.
#                    compliance_officer, audit_committee, investigator, admin
EXPECTED_WITH_GRANT = {
    "view": (OK, OK, OK, 403),
    "download": (OK, OK, OK, 403),
    "reveal": (SEE_OTHER, SEE_OTHER, 403, 403),
    "export": (OK, OK, OK, 403),
    "export-with-identity": (OK, OK, 403, 403),
    "reply": (SEE_OTHER, SEE_OTHER, SEE_OTHER, 403),
    "note": (SEE_OTHER, SEE_OTHER, SEE_OTHER, 403),
    "recuse": (SEE_OTHER, SEE_OTHER, SEE_OTHER, 403),
    "acknowledge": (SEE_OTHER, SEE_OTHER, 403, 403),
    "assign": (SEE_OTHER, SEE_OTHER, 403, 403),
    "investigate": (WRONG_STATUS, WRONG_STATUS, 403, 403),  # not yet acknowledged
    "conclude": (WRONG_STATUS, WRONG_STATUS, 403, 403),  # not under investigation
    "close": (SEE_OTHER, SEE_OTHER, 403, 403),  # closed without an investigation
    "assess": (SEE_OTHER, SEE_OTHER, 403, 403),
    "link": (SEE_OTHER, SEE_OTHER, 403, 403),
    "remediate": (WRONG_STATUS, WRONG_STATUS, 403, 403),  # not concluded
    "update-remediation": (WRONG_STATUS, WRONG_STATUS, 403, 403),  # not concluded
    "minutes": (SEE_OTHER, SEE_OTHER, SEE_OTHER, 403),
    "implicate": (SEE_OTHER, SEE_OTHER, 403, 403),
    "protect": (SEE_OTHER, SEE_OTHER, 403, 403),
    "disclose": (SEE_OTHER, SEE_OTHER, 403, 403),
    "discipline": (WRONG_STATUS, WRONG_STATUS, 403, 403),  # not concluded
    "escalate": (SEE_OTHER, 403, 403, 403),
    "return": (403, WRONG_STATUS, 403, 403),  # not escalated
    "take-over": (403, SEE_OTHER, 403, 403),
    "override": (403, SEE_OTHER, 403, 403),
}


def expected(role: str, action: str, granted: bool) -> int:
    answer = EXPECTED_WITH_GRANT[action][ROLES.index(role)]
    if not granted and answer != 403:  # the role may take the step, but holds no grant: not found
        return 404
    return answer


async def build_world(app, clock) -> dict:
    """Two cases: one every case role holds, one nobody in the matrix holds.

    Every matrix member has logged in once (enrolling their authenticator), so a
    test's login is an ordinary one. Returns plain values: references, ids, e-mails.
    """
    ctx = app.state.ctx
    async with ctx.sessions() as session:
        await initialise(session, ctx.today())
    staff = {}
    for name, role in [*((role, role) for role in ROLES), ("helper", "compliance_officer")]:
        async with ctx.sessions() as session:
            staff[name] = await create_staff(session, ctx, email=f"{name}@example.test", role=role, password=STAFF_PASSWORD)
    transport = httpx.ASGITransport(app=app, client=(CLIENT_ADDRESS, 40123))
    async with httpx.AsyncClient(
        transport=transport, base_url="https://speakup.test", headers={"user-agent": USER_AGENT}
    ) as client:
        reporter = Reporter(client)
        files = [("attachments", ("evidence.txt", CANARY.encode(), "text/plain"))]
        # The shared case names its reporter, so that passing the identity on is a valid step.
        shared_receipt = await reporter.file(
            {"details": CANARY, "anonymity": "confidential", "name": "N", "contact": "C"}, files=files
        )
        other_receipt = await reporter.file({"details": CANARY}, files=files)
        linkable_receipt = await reporter.file({"details": CANARY})  # held like the shared case: a link's other end
    shared, other = await case_for(ctx, shared_receipt), await case_for(ctx, other_receipt)
    linkable = await case_for(ctx, linkable_receipt)
    file_ids = {c.reference: 1 for c in (shared, other)}  # each case's first (and only) file

    # The shared case: the officers give it to the committee member and the investigator.
    officer = StaffBrowser(app, clock, staff["compliance_officer"].email)
    assert (await officer.login()).status_code == SEE_OTHER
    for case in (shared, linkable):
        for assignee in (staff["audit_committee"], staff["investigator"]):
            response = await officer.post(f"/staff/cases/{case.reference}/assign", {"assignee": assignee.id})
            assert response.status_code == SEE_OTHER, response.text[:300]
    # The other case: only the helper officer holds it (the matrix officer recuses).
    response = await officer.post(f"/staff/cases/{other.reference}/assign", {"assignee": staff["helper"].id})
    assert response.status_code == SEE_OTHER, response.text[:300]
    assert (await officer.post(f"/staff/cases/{other.reference}/recuse", {"confirm": "yes"})).status_code == SEE_OTHER
    await officer.post("/staff/logout")
    await officer.aclose()
    for role in ROLES[1:]:  # first logins: enrol the authenticators
        browser = StaffBrowser(app, clock, staff[role].email)
        assert (await browser.login()).status_code == SEE_OTHER
        await browser.post("/staff/logout")
        await browser.aclose()
    return {
        "shared": shared.reference,
        "other": other.reference,
        "linkable": linkable.reference,
        "files": file_ids,
        "people": {name: row.email for name, row in staff.items()},
        "ids": {name: row.id for name, row in staff.items()},
    }


@pytest.fixture(params=["sqlite", "postgresql"])
async def template(request, database_templates):
    postgres = request.getfixturevalue("postgres_databases") if request.param == "postgresql" else None
    return await database_templates.get("access_matrix", request.param, build_world, postgres)


# This module's tests run on a copy of the world; conftest's settings and app fixtures run on it.
@pytest.fixture
async def database_url(template, database_templates, tmp_path):
    async with database_templates.copy(template, tmp_path) as url:
        yield url


@pytest.fixture
def clock(app, template):
    """The clock where the world's build left it, with the staff's authenticators."""
    clock = template.clock()
    app.state.ctx.clock = clock
    return clock


@pytest.fixture
def world(template) -> dict:
    return copy.deepcopy(template.value)


@pytest.fixture
async def client(app):
    transport = httpx.ASGITransport(app=app, client=(CLIENT_ADDRESS, 40123))
    async with httpx.AsyncClient(
        transport=transport, base_url="https://speakup.test", headers={"user-agent": USER_AGENT}
    ) as client:
        yield client


@pytest.mark.parametrize("granted", [True, False], ids=["granted", "ungranted"])
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", list(CASE_ROUTES))
async def test_case_routes(app, clock, world, role, action, granted):
    reference = world["shared"] if granted else world["other"]
    method, path, form = CASE_ROUTES[action]
    assert action in EXPECTED_WITH_GRANT and (method == "GET" or form is not None), f"{action} is not in the matrix"
    path = path.format(ref=reference, file=world["files"][reference])
    form = {
        k: v.format(investigator=world["ids"]["investigator"], helper=world["ids"]["helper"], linkable=world["linkable"])
        for k, v in (form or {}).items()
    }
    browser = StaffBrowser(app, clock, world["people"][role])
    try:
        assert (await browser.login()).status_code == SEE_OTHER
        response = await (browser.get(path) if method == "GET" else browser.post(path, form))
        assert response.status_code == expected(role, action, granted), response.text[:300]
        if response.status_code in (403, 404):  # refused: nothing of the case shows
            assert CANARY not in response.text
    finally:
        await browser.aclose()


def test_every_action_is_in_the_matrix():
    """A new step on the case page needs a form and its expected answers here; a step gone leaves none behind."""
    assert set(FORMS) == set(ACTIONS), "the matrix's forms and staff.case_pages.ACTIONS differ"
    assert set(EXPECTED_WITH_GRANT) == set(ACTIONS) | set(READING_ROUTES) | {"export-with-identity"}, (
        "the expected answers and the routes differ"
    )
    assert all(len(answers) == len(ROLES) for answers in EXPECTED_WITH_GRANT.values())


def test_the_action_table_and_the_rules_name_the_same_steps():
    """Every step the case page posts is a step of cases/steps.py (which its domain function checks), and every step there has a route."""
    from cases.steps import STEPS

    assert set(ACTIONS) | set(READING_ROUTES) == set(STEPS)


def test_the_menu_offers_each_role_exactly_the_pages_it_may_open():
    from cases.steps import allowed_pages

    menu = {
        path: page
        for page, path in [
            ("cases", "/staff/"),
            ("team", "/staff/team"),
            ("accounts", "/staff/admin"),
            ("audit", "/staff/audit"),
            ("flags", "/staff/flags"),
            ("register", "/staff/register"),
            ("remediation", "/staff/remediation"),
            ("lists", "/staff/admin/lists"),
            ("complaints", "/staff/complaints"),
            ("dashboard", "/staff/dashboard"),
        ]
    }
    for (_, path), answers in SITE_ROUTES.items():
        if path in menu:
            for role, answer in answers.items():
                assert (menu[path] in allowed_pages(role)) == (answer == OK), (path, role)


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
    ("GET", "/staff/remediation"): {"compliance_officer": OK, "audit_committee": OK, "investigator": 403, "admin": 403},
    ("GET", "/staff/admin/lists"): {"compliance_officer": 403, "audit_committee": 403, "investigator": 403, "admin": OK},
    ("GET", "/staff/complaints"): {"compliance_officer": 403, "audit_committee": OK, "investigator": 403, "admin": 403},
    ("GET", "/staff/complaints.csv"): {"compliance_officer": 403, "audit_committee": OK, "investigator": 403, "admin": 403},
    ("GET", "/staff/dashboard"): {"compliance_officer": OK, "audit_committee": OK, "investigator": 403, "admin": 403},
    ("GET", "/staff/dashboard/board-pack.pdf"): {
        "compliance_officer": 403,
        "audit_committee": OK,
        "investigator": 403,
        "admin": 403,
    },
}


@pytest.mark.parametrize("role", ROLES)
async def test_site_routes(app, clock, world, role):
    browser = StaffBrowser(app, clock, world["people"][role])
    try:
        await browser.login()
        for (method, path), allowed in SITE_ROUTES.items():
            response = await browser.get(path)
            assert response.status_code == allowed[role], (path, role)
        staff_id = world["ids"]["investigator"]
        posts = {
            f"/staff/admin/staff/{staff_id}": ({"change": "disable", "confirm": "yes"}, {"admin": SEE_OTHER}),
            "/staff/admin/lists": ({"change": "add", "kind": "country", "label": "Peru"}, {"admin": SEE_OTHER}),
            f"/staff/complaints/{world['shared']}/escalation": ({}, {"audit_committee": SEE_OTHER}),
            "/staff/admin": ({"email": "x@example.test", "role": "admin", "password": "x" * 14}, {"admin": SEE_OTHER}),
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
    ("POST", "/staff/cases/{ref}/flags/1"),
    ("GET", "/staff/register"),
    ("GET", "/staff/register.csv"),
    ("POST", "/staff/digest"),
    ("GET", "/staff/remediation"),
    ("GET", "/staff/admin/lists"),
    ("POST", "/staff/admin/lists"),
    ("GET", "/staff/complaints"),
    ("GET", "/staff/complaints.csv"),
    ("POST", "/staff/complaints/{ref}/escalation"),
    ("POST", "/staff/cases/{ref}/export.pdf"),
    ("GET", "/staff/dashboard"),
    ("GET", "/staff/dashboard/board-pack.pdf"),
]


@pytest.mark.parametrize(("method", "path"), STAFF_ROUTES)
async def test_without_login_every_staff_route_sends_to_the_login_page(client, world, method, path):
    path = path.format(ref=world["shared"], file=world["files"][world["shared"]])
    response = await client.request(method, path)
    assert (response.status_code, response.headers.get("location")) == (303, "/staff/login")
    assert CANARY not in response.text


@pytest.mark.parametrize("path", [p for m, p in STAFF_ROUTES if m == "POST"] + ["/staff/cases/{ref}/reply", "/staff/logout"])
async def test_every_state_changing_route_needs_the_csrf_token(app, clock, world, path):
    path = path.format(ref=world["shared"])
    browser = StaffBrowser(app, clock, world["people"]["compliance_officer"])
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
