"""The reporter-facing URL map."""

from starlette.routing import Route

from . import api, pages

routes = [
    Route("/", pages.index, methods=["GET"]),
    Route("/report", pages.report_form, methods=["GET"]),
    Route("/report", pages.submit_report, methods=["POST"]),
    Route("/follow-up", pages.follow_up_form, methods=["GET"]),
    Route("/follow-up", pages.follow_up, methods=["POST"]),
    Route("/follow-up/messages", pages.send_message, methods=["POST"]),
    Route("/follow-up/check-in", pages.answer_check_in, methods=["POST"]),
    Route("/api/v1/reports", api.create_report, methods=["POST"]),
    Route("/api/v1/follow-up", api.follow_up, methods=["POST"]),
    Route("/api/v1/follow-up/messages", api.create_message, methods=["POST"]),
    Route("/api/v1/follow-up/check-ins", api.answer_check_in, methods=["POST"]),
    Route("/api/v1/openapi.json", api.openapi, methods=["GET"]),
]
