"""Staff case list and case file with many cases in the database.

Fills a fresh database with N cases (default 100,000) granted to one
Compliance Officer (bulk inserts of real-sized sealed rows, not N Argon2id
runs), starts `speakup serve` (uvicorn) on it in its own process, logs in over
loopback through the real login and TOTP enrolment, then times pages from
this process. Each list page is timed with its summary lines (decrypted for the
page's rows: two box openings per row) and without them (``?summaries=0``, the
same query, nothing decrypted), alternately, in several runs: prints the median
of the runs' medians, their spread (lowest to highest), p95 over all requests,
and what the summaries add.

    .venv/bin/python bench/caselist.py [--cases 100000] [--database-url URL] [--runs 5] [--rounds 30]

The default database is a temporary SQLite file; pass a PostgreSQL URL
(postgresql+asyncpg://postgres@127.0.0.1:5432/speakup_bench, created empty
beforehand) to measure PostgreSQL.
"""

import argparse
import asyncio
import math
import os
import random
import re
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import httpx
import pyotp
from load import start  # bench/load.py
from sqlalchemy import insert, select

from cases.accounts import create_staff
from cases.context import Context
from cases.filing import file_report, parse_report
from cases.installation import initialise
from cases.models import Base, Case, Grant
from cases.settings import Settings
from cases.vocabulary import CATEGORIES
from crypto.kdf import Argon2Params

PASSWORD = "benchmark password"


def status_for(received: date, rng: random.Random) -> str:
    """A plausible status for a case of this age: old cases are mostly closed."""
    age = (date(2026, 11, 24) - received).days
    if age > 270:
        return "closed" if rng.random() < 0.97 else "investigating"
    if age > 120:
        return rng.choice(["investigating", "concluded", "closed", "closed"])
    if age > 7:
        return rng.choice(["acknowledged", "investigating", "investigating"])
    return rng.choice(["received", "acknowledged"])


async def fill(ctx, count: int) -> str:
    async with ctx.sessions() as session:
        await initialise(session, ctx.today())
    async with ctx.sessions() as session:
        officer = await create_staff(session, ctx, email="co@bench.test", role="compliance_officer", password=PASSWORD)
    async with ctx.sessions() as session:  # one real report, whose sealed rows are copied
        await file_report(
            session,
            ctx,
            parse_report(
                {
                    "category": "other",
                    "summary": "Cash to a customs inspector through the clearing agent, to release a shipment held at the port",
                    "details": "x" * 1500,
                }
            ),
            [],
            ctx.today(),
        )
    async with ctx.sessions() as session:
        template = await session.scalar(select(Case))
        grant = await session.scalar(select(Grant).where(Grant.staff_id == officer.id))
    rng = random.Random(1)
    start, batch = time.perf_counter(), 5000
    for first in range(2, count + 1, batch):
        cases, grants = [], []
        for number in range(first, min(first + batch, count + 1)):
            received = date(2025, 1, 1) + timedelta(days=rng.randint(0, 690))
            cases.append(
                {
                    "id": number,
                    "reference": f"{received.year}-{number:06d}",
                    "category": rng.choice(list(CATEGORIES)),
                    "routing": "compliance_officer",
                    "status": status_for(received, rng),
                    "received_on": received,
                    "acknowledge_by": received + timedelta(days=7),
                    "feedback_by": received + timedelta(days=97),
                    "public_key": template.public_key,
                    "staff_public_key": template.staff_public_key,
                    "report_box": template.report_box,
                    "identity_box": template.identity_box,
                    "receipt_lookup": number.to_bytes(32, "big"),
                    "retaliation_flag": rng.random() < 0.02,
                }
            )
            grants.append(
                {
                    "case_id": number,
                    "holder": "staff",
                    "staff_id": officer.id,
                    "sealed_key": grant.sealed_key,
                    "staff_sealed_key": grant.staff_sealed_key,
                }
            )
        async with ctx.sessions() as session, session.begin():
            await session.execute(insert(Case), cases)
            await session.execute(insert(Grant), grants)
        print(f"  {min(first + batch - 1, count):,} cases ({time.perf_counter() - start:.0f} s)", flush=True)
    return template.reference


ROOT = Path(__file__).resolve().parent.parent


async def login(client: httpx.AsyncClient) -> None:
    await client.get("/staff/login")
    token = lambda: client.cookies.get("__Host-csrf") or client.cookies.get("csrf")  # noqa: E731
    await client.post("/staff/login", data={"email": "co@bench.test", "password": PASSWORD, "csrf_token": token()})
    found = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', (await client.get("/staff/enrol")).text)
    assert found, "no enrolment page"
    secret = found.group(1)
    response = await client.post("/staff/enrol", data={"code": pyotp.TOTP(secret.replace(" ", "")).now(), "csrf_token": token()})
    assert response.status_code == 303, response.text


async def timed(client, path: str, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        response = await client.get(path)
        times.append(time.perf_counter() - start)
        assert response.status_code == 200, (path, response.status_code)
    return times


def bare(path: str) -> str:
    """The same list page without its summary lines."""
    return path + ("&" if "?" in path else "?") + "summaries=0"


def percentile(times: list[float], share: float) -> float:
    """The nearest-rank percentile."""
    ordered = sorted(times)
    return ordered[min(len(ordered), math.ceil(len(ordered) * share)) - 1]


def summarise(runs: list[list[float]]) -> tuple[float, float, float, float]:
    """Median of the runs' medians, the lowest and highest run median, p95 of all requests (ms)."""
    medians = [statistics.median(run) * 1000 for run in runs]
    return statistics.median(medians), min(medians), max(medians), percentile([t for run in runs for t in run], 0.95) * 1000


async def main(count: int, database_url: str | None, rounds: int, runs_count: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        url = database_url or f"sqlite+aiosqlite:///{Path(directory)}/bench.db"
        # Cheap Argon2id: this measures the list, not logins.
        settings = Settings(database_url=url, data_dir=Path(directory), argon2=Argon2Params(1, 8192))
        ctx = Context(settings)
        async with ctx.engine.begin() as connection:
            await connection.run_sync(Base.metadata.drop_all)
            await connection.run_sync(Base.metadata.create_all)
        print(f"filling {count:,} cases into {url.split('://')[0]}")
        reference = await fill(ctx, count)
        async with ctx.engine.begin() as connection:
            await connection.exec_driver_sql("ANALYZE")  # fresh statistics, as autovacuum would give
        await ctx.close()
        env = {
            **os.environ,
            "SPEAKUP_DATABASE_URL": url,
            "SPEAKUP_DATA_DIR": directory,
            "SPEAKUP_WORKER_IN_APP": "false",
            "SPEAKUP_SECURE_COOKIES": "false",
            "SPEAKUP_ARGON2_OPSLIMIT": "1",
            "SPEAKUP_ARGON2_MEMLIMIT": "8192",
        }
        server, base = start(env, workers=1)
        try:
            client = httpx.AsyncClient(base_url=base)
            await login(client)
            pages = {
                "list, newest first": "/staff/",
                "list, page 40 (the last listed)": "/staff/?page=40",
                "list, overdue only": "/staff/?overdue=1",
                "list, flagged, by category": "/staff/?flagged=1&category=third_party",
                "list, sorted by feedback date": "/staff/?sort=feedback_by&status=investigating",
                "list, 200 a page": "/staff/?per_page=200",
            }
            for path in pages.values():  # warm up: caches, connections, compiled templates
                await timed(client, path, 3)
                await timed(client, bare(path), 3)
            runs: dict[str, dict[str, list[list[float]]]] = {label: {"with": [], "without": []} for label in pages}
            for _ in range(runs_count):  # alternate, so drift on a noisy machine hits both alike
                for label, path in pages.items():
                    runs[label]["with"].append(await timed(client, path, rounds))
                    runs[label]["without"].append(await timed(client, bare(path), rounds))
            print(f"\n{runs_count} runs of {rounds} requests per page and shape (uvicorn over loopback); ms")
            print(f"{'page':32} {'with summaries':>26} {'without':>26} {'added':>7}")
            print(f"{'':32} {'p50 (spread)':>19} {'p95':>6} {'p50 (spread)':>19} {'p95':>6} {'p50':>7}")
            for label in pages:
                shapes = {shape: summarise(times) for shape, times in runs[label].items()}
                cells = [f"{p50:6.1f} ({low:5.1f}-{high:5.1f}) {p95:6.1f}" for p50, low, high, p95 in shapes.values()]
                print(f"{label:32} {cells[0]:>26} {cells[1]:>26} {shapes['with'][0] - shapes['without'][0]:7.1f}")
            times = sorted(await timed(client, f"/staff/cases/{reference}", rounds))
            print(f"{'case file':32} p50 {statistics.median(times) * 1000:.1f}  p95 {percentile(times, 0.95) * 1000:.1f}")
            await client.aclose()
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--database-url")
    parser.add_argument("--rounds", type=int, default=30, help="requests per page and shape in each run")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.cases, args.database_url, args.rounds, args.runs))
