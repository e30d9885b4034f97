"""Killing the server (SIGKILL) while reporters file loses no report that was acknowledged with a receipt."""

import asyncio
import os
import signal
import socket
import subprocess
import sys

import httpx
from sqlalchemy import func, select

from cases.context import Context, today
from cases.installation import initialise
from cases.models import Case, Grant
from cases.settings import Settings
from cases.staff import create_staff
from cli import migrate
from tests.conftest import CHEAP_ARGON2, ROOT

REPORT = {"category": "other", "summary": "filed under fire", "details": "x" * 500}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(env: dict, port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", f"import cli; cli.main(['serve', '--port', '{port}'])"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


async def wait_until_up(port: int) -> None:
    for _ in range(200):
        try:
            async with httpx.AsyncClient() as client:
                if (await client.get(f"http://127.0.0.1:{port}/")).status_code == 200:
                    return
        except httpx.TransportError:
            await asyncio.sleep(0.05)
    raise AssertionError("the server did not start")


async def reporter_loop(port: int, receipts: list[str], stop: asyncio.Event) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        while not stop.is_set():
            try:
                response = await client.post("/api/v1/reports", json=REPORT)
            except httpx.TransportError:
                return  # the server died under us
            if response.status_code == 201:
                receipts.append(response.json()["receipt"])


async def test_sigkill_while_filing_loses_no_receipted_report(database_url, tmp_path):
    settings = Settings(database_url=database_url, data_dir=tmp_path, argon2=CHEAP_ARGON2)
    await asyncio.to_thread(migrate, settings)
    ctx = Context(settings)
    async with ctx.sessions() as session:
        await initialise(session, today())
    async with ctx.sessions() as session:
        await create_staff(session, ctx, email="co@example.test", role="compliance_officer", password="x" * 14)
    env = {**os.environ, "SPEAKUP_DATABASE_URL": database_url, "SPEAKUP_DATA_DIR": str(tmp_path),
           "SPEAKUP_ARGON2_OPSLIMIT": "1", "SPEAKUP_ARGON2_MEMLIMIT": "8192", "SPEAKUP_WORKER_IN_APP": "false"}
    port = free_port()
    server = start_server(env, port)
    try:
        await wait_until_up(port)
        receipts: list[str] = []
        stop = asyncio.Event()
        reporters = [asyncio.create_task(reporter_loop(port, receipts, stop)) for _ in range(8)]
        while len(receipts) < 40:
            await asyncio.sleep(0.02)
        os.kill(server.pid, signal.SIGKILL)  # mid-flight: some requests never get an answer
        server.wait()
        stop.set()
        await asyncio.gather(*reporters)
        server = start_server(env, port)
        await wait_until_up(port)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            for receipt in receipts:
                response = await client.post("/api/v1/follow-up", json={"receipt": receipt})
                assert response.status_code == 200, receipt
                assert response.json()["report"]["summary"] == "filed under fire"
    finally:
        server.kill()
        server.wait()
    async with ctx.sessions() as session:
        cases = await session.scalar(select(func.count()).select_from(Case))
        grants = dict((await session.execute(select(Grant.case_id, func.count()).group_by(Grant.case_id))).all())
    await ctx.close()
    assert cases >= len(receipts) >= 40
    # Every case that exists is whole: its officer, the recovery key and the reporter hold it.
    assert len(grants) == cases and set(grants.values()) == {3}
