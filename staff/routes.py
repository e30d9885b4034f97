"""The staff face's URL map, mounted at /staff, and the staff systems' machine API, mounted at /api/v1/hr."""

from starlette.routing import Route

import web.convertors  # noqa: F401  ({name:id} in the paths below)

from . import (
    admin_pages,
    auth_pages,
    case_pages,
    committee_pages,
    dashboard_pages,
    export_pages,
    hr_api,
    list_pages,
    register_pages,
    remediation_pages,
)

routes = [
    Route("/login", auth_pages.login_form, methods=["GET"], name="login"),
    Route("/login", auth_pages.login, methods=["POST"], name="submit_login"),
    Route("/enrol", auth_pages.enrol_form, methods=["GET"], name="enrol"),
    Route("/enrol", auth_pages.enrol, methods=["POST"], name="submit_enrol"),
    Route("/logout", auth_pages.logout, methods=["POST"], name="logout"),
    Route("/password", auth_pages.password, methods=["GET", "POST"], name="password"),
    Route("/digest", auth_pages.digest, methods=["POST"], name="digest"),
    Route("/", case_pages.case_list, methods=["GET"], name="cases"),
    Route("/cases/{reference}", case_pages.case_detail, methods=["GET"], name="case"),
    Route("/cases/{reference}/reveal", case_pages.reveal, methods=["POST"], name="reveal"),
    Route("/cases/{reference}/attachments/{number:id}", case_pages.attachment, methods=["GET"], name="attachment"),
    # Before the generic action route: the case as a PDF (GET), or with the reporter's identity (POST, a reason).
    Route("/cases/{reference}/export.pdf", export_pages.export_pdf, methods=["GET", "POST"], name="case_export"),
    # Before the generic action route: a reply is the one case form that may carry files.
    Route("/cases/{reference}/reply", case_pages.reply, methods=["POST"], name="reply"),
    Route("/cases/{reference}/{action}", case_pages.case_action, methods=["POST"], name="case_action"),
    Route("/flags", committee_pages.flags, methods=["GET"], name="flags"),
    Route("/remediation", remediation_pages.remediation_page, methods=["GET"], name="remediation"),
    Route("/cases/{reference}/flags/{number:id}", committee_pages.flag_action, methods=["POST"], name="flag_action"),
    Route("/dashboard", dashboard_pages.dashboard, methods=["GET"], name="dashboard"),
    Route("/dashboard/board-pack.pdf", dashboard_pages.board_pack, methods=["GET"], name="board_pack"),
    Route("/register", committee_pages.register_page, methods=["GET"], name="register"),
    Route("/register.csv", committee_pages.register_csv, methods=["GET"], name="register_csv"),
    Route("/complaints", register_pages.complaints, methods=["GET"], name="complaints"),
    Route("/complaints.csv", register_pages.complaints_csv, methods=["GET"], name="complaints_csv"),
    Route("/complaints/{reference}/escalation", register_pages.request_escalation, methods=["POST"], name="request_escalation"),
    Route("/team", admin_pages.team, methods=["GET", "POST"], name="team"),
    Route("/admin", admin_pages.accounts, methods=["GET", "POST"], name="accounts"),
    Route("/admin/staff/{staff_id:id}", admin_pages.account, methods=["POST"], name="account"),
    Route("/admin/lists", list_pages.list_entries, methods=["GET", "POST"], name="lists"),
    Route("/audit", admin_pages.audit_log, methods=["GET"], name="audit"),
]

# Mounted at /api/v1/hr: HR systems post adverse actions; every answer is JSON.
hr_api_routes = [
    Route("/adverse-actions", hr_api.adverse_actions, methods=["POST"], name="adverse_actions"),
]
