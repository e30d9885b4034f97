"""Killing the server (SIGKILL) while reporters file loses no report that was acknowledged with a receipt."""

import asyncio
import os
import signal

import httpx
from sqlalchemy import func, select

from cases.context import Context
from cases.models import Case, Grant
from cases.settings import Settings
from tests.conftest import prepared_server

REPORT = {"category": "other", "summary": "filed under fire", "details": "x" * 500}


async def reporter_loop(base: str, receipts: list[str], stop: asyncio.Event) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        while not stop.is_set():
            try:
                response = await client.post("/api/v1/reports", json=REPORT)
            except httpx.TransportError:
                return  # the server died under us
            if response.status_code == 201:
                receipts.append(response.json()["receipt"])


async def test_sigkill_while_filing_loses_no_receipted_report(database_url, tmp_path):
    server = await prepared_server(database_url, tmp_path)
    await server.start()
    try:
        receipts: list[str] = []
        stop = asyncio.Event()
        reporters = [asyncio.create_task(reporter_loop(server.base, receipts, stop)) for _ in range(8)]
        while len(receipts) < 40:
            await asyncio.sleep(0.02)
        os.kill(server.process.pid, signal.SIGKILL)  # mid-flight: some requests never get an answer
        server.process.wait()
        stop.set()
        await asyncio.gather(*reporters)
        await server.start()
        async with httpx.AsyncClient(base_url=server.base, timeout=10) as client:
            for receipt in receipts:
                response = await client.post("/api/v1/follow-up", json={"receipt": receipt})
                assert response.status_code == 200, receipt
                assert response.json()["report"]["summary"] == "filed under fire"
    finally:
        server.kill()
    ctx = Context(Settings(database_url=database_url, data_dir=tmp_path))
    async with ctx.sessions() as session:
        cases = await session.scalar(select(func.count()).select_from(Case))
        grants = dict((await session.execute(select(Grant.case_id, func.count()).group_by(Grant.case_id))).all())
    await ctx.close()
    assert cases >= len(receipts) >= 40
    # Every case that exists is whole: its officer, the recovery key and the reporter hold it.
    assert len(grants) == cases and set(grants.values()) == {3}
