"""The reporter face's URL map: the pages, and the hotline operators' JSON API under /api/v1."""

from starlette.routing import Route

from . import api, pages

routes = [
    Route("/", pages.index, methods=["GET"], name="index"),
    Route("/report", pages.report_form, methods=["GET"], name="report"),
    Route("/report", pages.submit_report, methods=["POST"], name="submit_report"),
    Route("/report/receipt", pages.receipt_page, methods=["GET"], name="receipt"),
    Route("/follow-up", pages.follow_up_form, methods=["GET"], name="follow_up"),
    Route("/follow-up", pages.follow_up, methods=["POST"], name="open_follow_up"),
    Route("/follow-up/messages", pages.send_message, methods=["POST"], name="send_message"),
    Route("/follow-up/check-in", pages.answer_check_in, methods=["POST"], name="answer_check_in"),
    Route("/follow-up/minutes", pages.answer_minutes, methods=["POST"], name="answer_minutes"),
    Route("/follow-up/leave", pages.leave, methods=["POST"], name="leave"),
]

# The JSON API, mounted at /api: every answer here, errors included, is JSON.
api_routes = [
    Route("/v1/reports", api.create_report, methods=["POST"], name="create_report"),
    Route("/v1/follow-up", api.follow_up, methods=["POST"], name="follow_up"),
    Route("/v1/follow-up/messages", api.create_message, methods=["POST"], name="create_message"),
    Route("/v1/follow-up/check-ins", api.answer_check_in, methods=["POST"], name="answer_check_in"),
    Route("/v1/follow-up/minutes", api.answer_minutes, methods=["POST"], name="answer_minutes"),
    Route("/v1/openapi.json", api.openapi, methods=["GET"], name="openapi"),
]
