"""Schemathesis against /api/v1/openapi.json on a real server: no 5xx, and every answer as documented."""

import asyncio
import os

import pytest
from hypothesis import HealthCheck, given, settings

from tests.conftest import prepared_server

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed")

OPERATIONS = [
    ("/api/v1/reports", "POST"),
    ("/api/v1/follow-up", "POST"),
    ("/api/v1/follow-up/messages", "POST"),
    ("/api/v1/follow-up/check-ins", "POST"),
    ("/api/v1/follow-up/minutes", "POST"),
    ("/api/v1/hr/adverse-actions", "POST"),
]


@pytest.mark.parametrize(("path", "method"), OPERATIONS)
async def test_every_operation_answers_as_documented(database_url, tmp_path, path, method):
    server = await prepared_server(database_url, tmp_path, hr_api_token="fuzz-token", hr_match_key="00" * 32)
    await server.start()
    try:
        base = server.base
        schema = schemathesis.openapi.from_url(f"{base}/api/v1/openapi.json")
        operation = schema[path][method]

        # Under CI the same examples every run (a red CI must mean a change broke something);
        # elsewhere new ones each run, to keep exploring.
        @settings(
            max_examples=40,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=os.environ.get("CI") == "true",
        )
        @given(case=operation.as_strategy())
        def check(case):
            headers = {"authorization": "Bearer fuzz-token"} if "hr" in path else None
            response = case.call(base_url=base, headers=headers)
            assert response.status_code < 500, response.text
            if response.status_code >= 400:
                body = response.json()
                assert isinstance(body.get("error"), str) and isinstance(body.get("detail"), str), body
            # ignored_auth would send its own (wrong) token in place of ours; the bad-token
            # answers are tested in test_retaliation.py.
            case.validate_response(response, excluded_checks=[schemathesis.checks.ignored_auth])

        await asyncio.to_thread(check)
    finally:
        server.kill()
