"""The staff site's URL map, mounted at /staff."""

from starlette.routing import Route

from . import admin_pages, auth_pages, case_pages, committee_pages, hr_api

routes = [
    Route("/login", auth_pages.login_form, methods=["GET"]),
    Route("/login", auth_pages.login, methods=["POST"]),
    Route("/enrol", auth_pages.enrol_form, methods=["GET"]),
    Route("/enrol", auth_pages.enrol, methods=["POST"]),
    Route("/logout", auth_pages.logout, methods=["POST"]),
    Route("/password", auth_pages.password, methods=["GET", "POST"]),
    Route("/digest", auth_pages.digest, methods=["POST"]),
    Route("/", case_pages.case_list, methods=["GET"]),
    Route("/cases/{reference}", case_pages.case_detail, methods=["GET"]),
    Route("/cases/{reference}/reveal", case_pages.reveal, methods=["POST"]),
    Route("/cases/{reference}/attachments/{attachment_id:int}", case_pages.attachment, methods=["GET"]),
    Route("/cases/{reference}/{action}", case_pages.case_action, methods=["POST"]),
    Route("/flags", committee_pages.flags, methods=["GET"]),
    Route("/flags/{flag_id:int}", committee_pages.flag_action, methods=["POST"]),
    Route("/register", committee_pages.register_page, methods=["GET"]),
    Route("/register.csv", committee_pages.register_csv, methods=["GET"]),
    Route("/team", admin_pages.team, methods=["GET", "POST"]),
    Route("/admin", admin_pages.accounts, methods=["GET", "POST"]),
    Route("/admin/staff/{staff_id:int}", admin_pages.account, methods=["POST"]),
    Route("/audit", admin_pages.audit_log, methods=["GET"]),
]

# Mounted at the site's root: the JSON error shape applies under /api/.
api_routes = [
    Route("/api/v1/hr/adverse-actions", hr_api.adverse_actions, methods=["POST"]),
]
