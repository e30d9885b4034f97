"""Speakup under load, as in production: uvicorn in its own process, driven over loopback.

Measures, with the default Argon2id parameters:
- intake (POST /api/v1/reports) and follow-up (POST /api/v1/follow-up) at 1, 8
  and 32 concurrent reporters: throughput and p50/p95/p99 latency, beside the
  floor for the same work in this process without HTTP (one Argon2id run +
  sealing + one insert, or one Argon2id run + one read, in a loop);
- the server's peak RSS while 100 follow-ups arrive at once, against the bound
  the Argon2id semaphore sets (concurrency x memlimit over the idle size);
- the weight of the reporter's pages (bytes and requests; no script).

Every figure is the median of --runs runs. Usage:

    .venv/bin/python bench/load.py [--database-url URL] [--workers 1] [--seconds 4] [--runs 3]

PostgreSQL: pass an empty database's URL (postgresql+asyncpg://...).
"""

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from cases.accounts import create_staff
from cases.context import Context
from cases.filing import file_report, parse_report
from cases.follow_up import read_mailbox
from cases.installation import initialise
from cases.models import Base
from cases.settings import Settings

ROOT = Path(__file__).resolve().parent.parent

REPORT = {"category": "third_party", "summary": "Commission far above market", "details": "d" * 1500}
CONCURRENCY = (1, 8, 32)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


async def floor(ctx: Context, seconds: float, receipts: list[str]) -> tuple[float, float, float, float]:
    """(filings/s, p50 ms, follow-ups/s, p50 ms) with no HTTP, one at a time."""
    draft = parse_report(REPORT)
    filed, started = [], time.perf_counter()
    while time.perf_counter() - started < seconds:
        t = time.perf_counter()
        async with ctx.sessions() as session:
            await file_report(session, ctx, draft, [], ctx.today())
        filed.append(time.perf_counter() - t)
    read, started = [], time.perf_counter()
    while time.perf_counter() - started < seconds:
        t = time.perf_counter()
        async with ctx.sessions() as session:
            await read_mailbox(session, ctx, random.choice(receipts))
        read.append(time.perf_counter() - t)
    return len(filed) / sum(filed), statistics.median(filed) * 1000, len(read) / sum(read), statistics.median(read) * 1000


async def drive(base: str, concurrency: int, seconds: float, request) -> tuple[float, list[float]]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def one_reporter() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            while time.perf_counter() < deadline:
                t = time.perf_counter()
                response = await request(client)
                assert response.status_code in (200, 201), response.text
                latencies.append(time.perf_counter() - t)

    started = time.perf_counter()
    await asyncio.gather(*(one_reporter() for _ in range(concurrency)))
    return len(latencies) / (time.perf_counter() - started), latencies


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def start(env: dict, workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", f"import cli; cli.main(['serve', '--port', '{port}', '--workers', '{workers}'])"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(base + "/").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.05)
    return server, base


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def main(args: argparse.Namespace) -> None:
    directory = tempfile.mkdtemp(prefix="speakup-bench-")
    url = args.database_url or f"sqlite+aiosqlite:///{directory}/bench.db"
    settings = Settings(database_url=url, data_dir=Path(directory))
    ctx = Context(settings)
    async with ctx.engine.begin() as connection:
        await connection.run_sync(Base.metadata.drop_all)
        await connection.run_sync(Base.metadata.create_all)
    async with ctx.sessions() as session:
        await initialise(session, ctx.today())
    async with ctx.sessions() as session:
        await create_staff(session, ctx, email="co@bench.test", role="compliance_officer", password="benchmark password")
    receipts = []
    for _ in range(20):
        async with ctx.sessions() as session:
            receipts.append(await file_report(session, ctx, parse_report(REPORT), [], ctx.today()))

    print(
        f"Speakup load benchmark: {url.split(':')[0]}, {args.workers} worker(s), Argon2id ops={settings.argon2.opslimit} "
        f"mem={settings.argon2.memlimit >> 20} MiB, concurrency limit {settings.argon2_concurrency}, "
        f"{os.cpu_count()} CPUs; medians of {args.runs} runs of {args.seconds:g} s"
    )
    floors = [await floor(ctx, args.seconds, receipts) for _ in range(args.runs)]
    await ctx.close()
    file_floor = statistics.median(f[0] for f in floors), statistics.median(f[1] for f in floors)
    read_floor = statistics.median(f[2] for f in floors), statistics.median(f[3] for f in floors)

    env = {
        **os.environ,
        "SPEAKUP_DATABASE_URL": url,
        "SPEAKUP_DATA_DIR": directory,
        "SPEAKUP_WORKER_IN_APP": "false",
    }
    server, base = start(env, args.workers)
    try:

        async def file_one(client):
            return await client.post("/api/v1/reports", json=REPORT)

        async def follow_one(client):
            return await client.post("/api/v1/follow-up", json={"receipt": random.choice(receipts)})

        print(f"\n{'':26}{'per s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'vs floor':>13}")
        for label, request, (floor_rate, floor_p50) in (("intake", file_one, file_floor), ("follow-up", follow_one, read_floor)):
            print(f"{label + ' floor (no HTTP)':26}{floor_rate:8.1f}{floor_p50:9.1f}")
            for concurrency in CONCURRENCY:
                results = [await drive(base, concurrency, args.seconds, request) for _ in range(args.runs)]
                rate = statistics.median(r[0] for r in results)
                p = {q: statistics.median(percentile(r[1], q) * 1000 for r in results) for q in (0.5, 0.95, 0.99)}
                ratio = f"{rate / floor_rate:.2f}x rate" if concurrency > 1 else f"{p[0.5] / floor_p50:.2f}x p50"
                print(f"{label + f' x{concurrency}':26}{rate:8.1f}{p[0.5]:9.1f}{p[0.95]:9.1f}{p[0.99]:9.1f}{ratio:>13}")

        # A fresh server, so its high-water mark shows this burst and nothing before it.
        server.terminate()
        server.wait()
        server, base = start(env, args.workers)
        await drive(base, 2, 1, follow_one)  # warm: one Argon2id run per slot
        pid = server.pid
        if args.workers > 1:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            pid = int(children[0]) if children else pid
        before = peak_rss_kib(pid)

        async def burst():
            async with httpx.AsyncClient(base_url=base, timeout=120, limits=httpx.Limits(max_connections=200)) as client:
                return await asyncio.gather(*(follow_one(client) for _ in range(100)))

        answers = await burst()
        after = peak_rss_kib(pid)
        bound = settings.argon2_concurrency * settings.argon2.memlimit >> 10
        print(
            f"\npeak RSS, 100 follow-ups at once: {before / 1024:.0f} MiB before, {after / 1024:.0f} MiB after "
            f"(+{(after - before) / 1024:.0f} MiB; the semaphore's bound is +{bound / 1024:.0f} MiB "
            f"plus request buffers); {sum(a.status_code == 200 for a in answers)}/100 answered"
        )

        print("\npage weight (no JavaScript on any page):")
        css = len(httpx.get(base + "/static/style.css").content)
        for path in ("/", "/report", "/follow-up"):
            page = httpx.get(base + path)
            scripts = page.text.count("<script")
            print(
                f"  {path:12} {len(page.content):6,} bytes HTML + {css:,} bytes CSS = {len(page.content) + css:,} bytes, "
                f"2 requests, {scripts} scripts"
            )
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--runs", type=int, default=3)
    asyncio.run(main(parser.parse_args()))
