"""Speakup's memory over a soak: does the server's RSS stay flat at the real Argon2id cost?

Starts `speakup serve` in its own process (SQLite in a temporary directory,
default Argon2id, worker in app off), files a few reports, then for
--minutes drives a steady mix of follow-ups (right and wrong receipts, every
one an Argon2id run) from --clients concurrent clients, sampling the server's
RSS (VmRSS of the process and its children) every --every seconds. Prints
minute by minute the RSS and the requests done, then start, end, max and the
slope over the second half (MiB/min, least squares over the samples).

    .venv/bin/python bench/memory.py [--minutes 10] [--clients 4] [--workers 1] [--env NAME=VALUE ...]

--env sets a variable in the server's environment only (e.g. MALLOC_ARENA_MAX=2),
to try a remedy without changing the code.
"""

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from load import start  # bench/load.py: `speakup serve` in its own process

from cases.context import Context
from cases.installation import initialise
from cases.models import Base
from cases.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
REPORT = {"category": "other", "summary": "Memory soak report", "details": "m" * 1500}


def rss_kib(pid: int) -> int:
    """VmRSS of pid and, recursively, its children (uvicorn's workers when --workers > 1)."""
    total = 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += rss_kib(int(child))
    except (FileNotFoundError, ProcessLookupError):
        pass
    return total


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (minutes, MiB)."""
    if len(points) < 2:
        return 0.0
    mx = statistics.fmean(p[0] for p in points)
    my = statistics.fmean(p[1] for p in points)
    den = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / den if den else 0.0


async def main(args: argparse.Namespace) -> None:
    directory = tempfile.mkdtemp(prefix="speakup-memory-")
    url = f"sqlite+aiosqlite:///{directory}/bench.db"
    settings = Settings(database_url=url, data_dir=Path(directory))
    ctx = Context(settings)
    async with ctx.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    async with ctx.sessions() as session:
        await initialise(session, ctx.today())
    await ctx.close()

    extra = dict(item.split("=", 1) for item in args.env)
    env = {**os.environ, "SPEAKUP_DATABASE_URL": url, "SPEAKUP_DATA_DIR": directory, "SPEAKUP_WORKER_IN_APP": "false", **extra}
    print(
        f"Speakup memory soak: SQLite, {args.workers} worker(s), Argon2id ops={settings.argon2.opslimit} "
        f"mem={settings.argon2.memlimit >> 20} MiB, concurrency limit {settings.argon2_concurrency}, {os.cpu_count()} CPUs, "
        f"{args.clients} clients, {args.minutes:g} min, sample every {args.every:g} s; env {extra or '(none)'}"
    )
    server, base = start(env, args.workers)
    statuses: dict[int, int] = {}
    try:
        async with httpx.AsyncClient(base_url=base, timeout=120) as client:
            receipts = []
            for _ in range(args.reports):
                response = await client.post("/api/v1/reports", json=REPORT)
                assert response.status_code == 201, response.text
                receipts.append(response.json()["receipt"])
        done = 0
        in_flight = 0
        go = asyncio.Event()
        go.set()
        deadline = time.monotonic() + args.minutes * 60

        async def one_client() -> None:
            nonlocal done, in_flight
            async with httpx.AsyncClient(base_url=base, timeout=120) as client:
                while time.monotonic() < deadline:
                    await go.wait()
                    if random.random() < 0.5:
                        receipt = random.choice(receipts)
                    else:  # a wrong receipt: well formed, matches nothing, costs the same Argon2id run
                        receipt = "-".join(f"{random.randrange(10000):04d}" for _ in range(4))
                    in_flight += 1
                    try:
                        response = await client.post("/api/v1/follow-up", json={"receipt": receipt})
                    finally:
                        in_flight -= 1
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                    done += 1

        samples: list[tuple[float, float, int]] = []  # (minutes, MiB, requests done), under load
        quiet: list[tuple[float, float]] = []  # (minutes, MiB) with no request in flight
        began = time.monotonic()

        async def quiet_rss() -> float:
            """Hold the clients, let the requests in flight finish, settle 1 s, sample, resume."""
            go.clear()
            while in_flight:
                await asyncio.sleep(0.05)
            await asyncio.sleep(1)
            mib = rss_kib(server.pid) / 1024
            go.set()
            return mib

        async def sampler() -> None:
            quiet.append((0.0, rss_kib(server.pid) / 1024))
            next_quiet = 1
            while True:
                await asyncio.sleep(min(args.every, max(0.0, deadline - time.monotonic())))
                now = (time.monotonic() - began) / 60
                samples.append((now, rss_kib(server.pid) / 1024, done))
                if time.monotonic() >= deadline:
                    while in_flight:
                        await asyncio.sleep(0.05)
                    await asyncio.sleep(1)
                    quiet.append((now, rss_kib(server.pid) / 1024))
                    return
                if now >= next_quiet:
                    quiet.append((now, await quiet_rss()))
                    next_quiet += 1

        await asyncio.gather(sampler(), *(one_client() for _ in range(args.clients)))
    finally:
        server.terminate()
        server.wait()

    print(f"\n{'minute':>6}{'quiet MiB':>11}{'load median':>13}{'load max':>10}{'requests':>10}")
    for minute, (t, mib) in enumerate(quiet):
        within = [s for s in samples if minute - 1 <= s[0] < minute + 1e-6] if minute else []
        loaded = [s[1] for s in within]
        count = within[-1][2] if within else 0
        load = f"{statistics.median(loaded):13.1f}{max(loaded):10.1f}" if loaded else f"{'':13}{'':10}"
        print(f"{t:6.1f}{mib:11.1f}{load}{count:10d}")
    summary = {
        "quiet": [m for _, m in quiet],
        "under load": [s[1] for s in samples],
    }
    half = samples[-1][0] / 2
    halves = {
        "quiet": [(t, m) for t, m in quiet if t >= half],
        "under load": [(s[0], s[1]) for s in samples if s[0] >= half],
    }
    rate = samples[-1][2] / (samples[-1][0] * 60)
    print()
    for name, values in summary.items():
        print(
            f"{name:>10}: start {values[0]:.1f} MiB, end {values[-1]:.1f}, max {max(values):.1f}; "
            f"second half median {statistics.median(v for _, v in halves[name]):.1f}, slope {slope(halves[name]):+.2f} MiB/min"
        )
    print(f"{samples[-1][2]} follow-ups ({rate:.1f}/s), statuses {dict(sorted(statuses.items()))}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--reports", type=int, default=5)
    parser.add_argument("--every", type=float, default=10, help="seconds between RSS samples")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="set in the server's environment")
    asyncio.run(main(parser.parse_args()))
