"""The Audit Committee's complaint register with many cases in the database.

Fills a fresh database with N cases (default 100,000) the way ``bench/caselist.py`` does
(bulk inserts of real-sized sealed rows copied from one real report), with what the
register reads filled in as a real installation would have it: channels, routing (some
reports to the Committee only, which the member holds), assessments, findings with root
causes, remediation actions (some overdue), retaliation flags, a few conflicts of interest,
a few escalation requests, and three audit entries per case. Starts `speakup serve` on it
in its own process, logs in as a Committee member over loopback, then times register
pages in several runs: prints the median of the runs' medians, their spread (lowest to
highest run median) and p95 over all requests; then the CSV, a few times.

    .venv/bin/python bench/register.py [--cases 100000] [--database-url URL] [--runs 5] [--rounds 20]

The default database is a temporary SQLite file; pass a PostgreSQL URL
(postgresql+asyncpg://postgres@127.0.0.1:5432/speakup_bench_register, created empty
beforehand) to measure PostgreSQL.
"""

import argparse
import asyncio
import os
import random
import re
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pyotp
from caselist import PASSWORD, status_for, summarise, timed  # bench/caselist.py
from load import start  # bench/load.py
from sqlalchemy import insert, select

from cases.accounts import create_staff
from cases.context import Context
from cases.filing import file_report, parse_report
from cases.installation import initialise
from cases.models import (
    AuditEntry,
    Base,
    Case,
    Finding,
    Grant,
    Implicated,
    ListEntry,
    RemediationAction,
    RetaliationFlag,
)
from cases.settings import Settings
from cases.vocabulary import CATEGORIES, CHANNELS, FINDINGS, PRIORITIES, ROOT_CAUSES
from crypto.kdf import Argon2Params

MEMBER = "member@bench.test"
TODAY = date(2026, 11, 24)


async def fill(ctx, count: int) -> None:
    async with ctx.sessions() as session:
        await initialise(session, ctx.today())
    async with ctx.sessions() as session:
        officer = await create_staff(session, ctx, email="co@bench.test", role="compliance_officer", password=PASSWORD)
    async with ctx.sessions() as session:
        member = await create_staff(session, ctx, email=MEMBER, role="audit_committee", password=PASSWORD)
    async with ctx.sessions() as session:
        other = await create_staff(session, ctx, email="other@bench.test", role="audit_committee", password=PASSWORD)
    async with ctx.sessions() as session:  # one real report, whose sealed rows are copied
        await file_report(
            session,
            ctx,
            parse_report({"category": "other", "summary": "Cash to a customs inspector", "details": "x" * 1500}),
            [],
            ctx.today(),
        )
    async with ctx.sessions() as session:
        template = await session.scalar(select(Case))
        grant = await session.scalar(select(Grant).where(Grant.staff_id == officer.id))
    async with ctx.sessions() as session, session.begin():
        session.add_all(ListEntry(kind="business_unit", label=f"Unit {n}") for n in range(12))
        session.add_all(ListEntry(kind="country", label=f"Country {n}") for n in range(40))
    async with ctx.sessions() as session:
        entries = dict((await session.execute(select(ListEntry.id, ListEntry.kind))).all())
    units = [i for i, kind in entries.items() if kind == "business_unit"]
    countries = [i for i, kind in entries.items() if kind == "country"]
    rng = random.Random(1)
    start, batch = time.perf_counter(), 5000
    for first in range(2, count + 1, batch):
        rows: dict[type, list[dict]] = {
            m: [] for m in (Case, Grant, Finding, RemediationAction, RetaliationFlag, AuditEntry, Implicated)
        }
        for number in range(first, min(first + batch, count + 1)):
            received = date(2025, 1, 1) + timedelta(days=rng.randint(0, 690))
            status = status_for(received, rng)
            leadership = rng.random() < 0.05
            acknowledged = received + timedelta(days=rng.randint(1, 10)) if status != "received" else None
            assessed = status not in ("received", "acknowledged")
            decided = status in ("concluded", "closed")
            flagged = rng.random() < 0.02
            rows[Case].append(
                {
                    "id": number,
                    "reference": f"{received.year}-{number:06d}",
                    "category": rng.choice(list(CATEGORIES)),
                    "routing": "audit_committee" if leadership else "compliance_officer",
                    "channel": rng.choices(list(CHANNELS), weights=[70, 12, 6, 8, 4])[0],
                    "status": status,
                    "received_on": received,
                    "acknowledge_by": received + timedelta(days=7),
                    "acknowledged_on": acknowledged,
                    "feedback_by": (acknowledged or received + timedelta(days=7)) + timedelta(days=91),
                    "feedback_given_on": received + timedelta(days=rng.randint(30, 110)) if decided else None,
                    "assessed_on": (acknowledged or received) if assessed else None,
                    "admissibility": "in_scope" if assessed else None,
                    "priority": rng.choice(list(PRIORITIES)) if assessed else None,
                    "detriment_risk": rng.choice(["low", "low", "medium", "high"]) if assessed else None,
                    "business_unit_id": rng.choice(units) if assessed else None,
                    "country_id": rng.choice(countries) if assessed else None,
                    "investigation_due": received + timedelta(days=120) if assessed else None,
                    "closure": "investigated" if status == "closed" else None,
                    "closed_on": received + timedelta(days=rng.randint(120, 260)) if status == "closed" else None,
                    "public_key": template.public_key,
                    "staff_public_key": template.staff_public_key,
                    "report_box": template.report_box,
                    "identity_box": template.identity_box,
                    "receipt_lookup": number.to_bytes(32, "big"),
                    "retaliation_flag": flagged,
                }
            )
            holder = member.id if leadership else officer.id
            rows[Grant].append(
                {
                    "case_id": number,
                    "holder": "staff",
                    "staff_id": holder,
                    "sealed_key": grant.sealed_key,
                    "staff_sealed_key": grant.staff_sealed_key,
                }
            )
            if decided:
                outcome = rng.choice(list(FINDINGS))
                rows[Finding].append(
                    {
                        "case_id": number,
                        "outcome": outcome,
                        "root_cause": rng.choice(list(ROOT_CAUSES)) if outcome.endswith("substantiated") else None,
                        "narrative_box": template.identity_box,
                        "root_cause_box": template.identity_box,
                        "decided_by": officer.id,
                        "decided_on": received + timedelta(days=110),
                    }
                )
                if outcome == "substantiated":
                    for n in range(1, rng.randint(1, 3) + 1):
                        rows[RemediationAction].append(
                            {
                                "case_id": number,
                                "number": n,
                                "what_box": template.identity_box,
                                "owner_box": template.identity_box,
                                "due_on": received + timedelta(days=rng.randint(150, 500)),
                                "status": rng.choice(["open", "in_progress", "done", "verified"]),
                                "created_by": officer.id,
                                "created_on": received + timedelta(days=111),
                                "updated_on": received + timedelta(days=111),
                            }
                        )
            if flagged:
                opened = received + timedelta(days=rng.randint(10, 200))
                rows[RetaliationFlag].append(
                    {
                        "id": number,
                        "case_id": number,
                        "number": 1,
                        "source": "reporter",
                        "opened_on": opened,
                        "respond_by": opened + timedelta(days=7),
                        "status": rng.choice(["open", "under_review", "resolved", "resolved"]),
                    }
                )
            if number % 500 == 0:  # a conflict of interest: hidden from the other member
                rows[Implicated].append({"case_id": number, "staff_id": other.id, "named_by": officer.id, "named_on": received})
            at = datetime.combine(received, datetime.min.time(), tzinfo=UTC)
            for action, actor in (("report.filed", None), ("status.changed", officer.id), ("case.viewed", officer.id)):
                rows[AuditEntry].append(
                    {"at": at, "actor_id": actor, "action": action, "case_id": number, "detail": "", "entry_hash": bytes(32)}
                )
            if number % 1000 == 0 and status in ("acknowledged", "investigating") and not leadership:
                rows[AuditEntry].append(
                    {
                        "at": at,
                        "actor_id": member.id,
                        "action": "escalation.requested",
                        "case_id": number,
                        "detail": "",
                        "entry_hash": bytes(32),
                    }
                )
        async with ctx.sessions() as session, session.begin():
            for model, values in rows.items():
                if values:
                    await session.execute(insert(model), values)
        print(f"  {min(first + batch - 1, count):,} cases ({time.perf_counter() - start:.0f} s)", flush=True)


async def login(client: httpx.AsyncClient, email: str) -> None:
    """The real login and TOTP enrolment, as in bench/caselist.py, for any account."""
    await client.get("/staff/login")
    token = lambda: client.cookies.get("__Host-csrf") or client.cookies.get("csrf")  # noqa: E731
    await client.post("/staff/login", data={"email": email, "password": PASSWORD, "csrf_token": token()})
    found = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', (await client.get("/staff/enrol")).text)
    assert found, "no enrolment page"
    response = await client.post(
        "/staff/enrol", data={"code": pyotp.TOTP(found.group(1).replace(" ", "")).now(), "csrf_token": token()}
    )
    assert response.status_code == 303, response.text


async def main(count: int, database_url: str | None, rounds: int, runs_count: int, reuse: bool = False) -> None:
    with tempfile.TemporaryDirectory() as directory:
        url = database_url or f"sqlite+aiosqlite:///{Path(directory)}/bench.db"
        settings = Settings(database_url=url, data_dir=Path(directory), argon2=Argon2Params(1, 8192))
        ctx = Context(settings)
        if not reuse:
            async with ctx.engine.begin() as connection:
                await connection.run_sync(Base.metadata.drop_all)
                await connection.run_sync(Base.metadata.create_all)
            print(f"filling {count:,} cases into {url.split('://')[0]}")
            await fill(ctx, count)
            async with ctx.engine.begin() as connection:
                await connection.exec_driver_sql("ANALYZE")  # fresh statistics, as autovacuum would give
        async with ctx.sessions() as session:  # where the page after the 20,000th row starts (keyset)
            deep = (
                await session.execute(
                    select(Case.received_on, Case.reference)
                    .order_by(Case.received_on.desc(), Case.reference.desc())
                    .offset(min(20_000, count - 1))
                    .limit(1)
                )
            ).one()
        member = MEMBER
        if reuse:  # a member of this run: the first run's authenticator is gone
            member = f"member-{os.getpid()}@bench.test"
            async with ctx.sessions() as session:
                await create_staff(session, ctx, email=member, role="audit_committee", password=PASSWORD)
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
            client = httpx.AsyncClient(base_url=base, timeout=120)
            await login(client, member)
            pages = {
                "register, newest first": "/staff/complaints",
                "after the 20,000th row (keyset)": f"/staff/complaints?after={deep.received_on.isoformat()}.{deep.reference}",
                "past a deadline": "/staff/complaints?overdue=1",
                "flagged, one category": "/staff/complaints?flagged=1&category=third_party",
                "investigating, by letter": "/staff/complaints?status=investigating&channel=letter",
                "Committee-routed, a quarter": "/staff/complaints?routing=audit_committee&from=2026-01-01&to=2026-03-31",
                "200 a page": "/staff/complaints?per_page=200",
            }
            for path in pages.values():  # warm up: caches, connections, compiled templates
                await timed(client, path, 3)
            runs: dict[str, list[list[float]]] = {label: [] for label in pages}
            for _ in range(runs_count):  # alternate, so drift on a noisy machine hits every page alike
                for label, path in pages.items():
                    runs[label].append(await timed(client, path, rounds))
            print(f"\n{runs_count} runs of {rounds} requests per page (uvicorn over loopback, {count:,} cases); ms")
            print(f"{'page':34} {'p50':>7} {'(spread)':>15} {'p95':>7}")
            for label in pages:
                p50, low, high, p95 = summarise(runs[label])
                print(f"{label:34} {p50:7.1f} ({low:6.1f}-{high:6.1f}) {p95:7.1f}")
            for label, path in (
                ("CSV, one quarter", "/staff/complaints.csv?from=2026-01-01&to=2026-03-31"),
                ("CSV, every case", "/staff/complaints.csv"),
            ):
                times = await timed(client, path, 3)
                size = len((await client.get(path)).content)
                print(f"{label:34} median {statistics.median(times) * 1000:7.0f} ms, {size / 1e6:.1f} MB")
            await client.aclose()
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--database-url")
    parser.add_argument("--rounds", type=int, default=20, help="requests per page in each run")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--reuse", action="store_true", help="time a PostgreSQL database filled by an earlier run")
    args = parser.parse_args()
    asyncio.run(main(args.cases, args.database_url, args.rounds, args.runs, args.reuse))
