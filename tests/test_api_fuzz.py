"""Schemathesis against /api/v1/openapi.json on a real server: no 5xx, and every answer as documented."""

import asyncio
import os

import pytest
from hypothesis import HealthCheck, given, settings

from cases.context import Context, today
from cases.installation import initialise
from cases.settings import Settings
from cases.staff import create_staff
from cli import migrate
from tests.conftest import CHEAP_ARGON2
from tests.test_crash import free_port, start_server, wait_until_up

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed")

OPERATIONS = [
    ("/api/v1/reports", "POST"),
    ("/api/v1/follow-up", "POST"),
    ("/api/v1/follow-up/messages", "POST"),
    ("/api/v1/follow-up/check-ins", "POST"),
    ("/api/v1/hr/adverse-actions", "POST"),
]


@pytest.mark.parametrize(("path", "method"), OPERATIONS)
async def test_every_operation_answers_as_documented(database_url, tmp_path, path, method):
    settings_ = Settings(database_url=database_url, data_dir=tmp_path, argon2=CHEAP_ARGON2)
    await asyncio.to_thread(migrate, settings_)
    ctx = Context(settings_)
    async with ctx.sessions() as session:
        await initialise(session, today())
    async with ctx.sessions() as session:
        await create_staff(session, ctx, email="co@example.test", role="compliance_officer", password="x" * 14)
    await ctx.close()
    env = {**os.environ, "SPEAKUP_DATABASE_URL": database_url, "SPEAKUP_DATA_DIR": str(tmp_path),
           "SPEAKUP_ARGON2_OPSLIMIT": "1", "SPEAKUP_ARGON2_MEMLIMIT": "8192", "SPEAKUP_WORKER_IN_APP": "false",
           "SPEAKUP_HR_API_TOKEN": "fuzz-token", "SPEAKUP_HR_MATCH_KEY": "00" * 32,
           "SPEAKUP_RECEIPT_FAILURES_PER_MINUTE": "100000"}
    port = free_port()
    server = start_server(env, port)
    try:
        await wait_until_up(port)
        base = f"http://127.0.0.1:{port}"
        schema = schemathesis.openapi.from_url(f"{base}/api/v1/openapi.json")
        operation = schema[path][method]

        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
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
        server.wait()
