"""The oversight dashboard and the board pack with many cases in the database.

Fills a fresh database with N cases (default 100,000) over the last 23 months, in realistic
proportions: 5% leadership reports, statuses by age, assessments with allegation types,
business units and countries, findings on a third of the cases (root causes on the
substantiated ones), remediation actions and discipline after them, retaliation flags on 3%,
a few cases implicating the Compliance Officer. Rows are bulk-inserted (real-sized sealed
boxes copied from one real report, not N Argon2id runs). Then it starts `speakup serve`
(uvicorn) on the database in its own process, logs in over loopback as the Compliance Officer
(who holds 95% of the cases) and as an Audit Committee member (who counts all of them), and
times, over HTTP through the real app, the whole request: the figures' SQL, the charts drawn
to SVG, the page rendered; and the board pack PDF (figures, charts, layout, audit entry).
Prints the median of the runs' medians, their spread and p95 over all requests.

    .venv/bin/python bench/dashboard.py [--cases 100000] [--database-url URL] [--runs 5] [--rounds 20]

The default database is a temporary SQLite file; pass a PostgreSQL URL
(postgresql+asyncpg://postgres@127.0.0.1:5432/speakup_bench_dashboard, created empty
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
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pyotp
from load import start  # bench/load.py
from sqlalchemy import insert, select

from cases.accounts import create_staff
from cases.context import Context
from cases.filing import file_report, parse_report
from cases.installation import initialise
from cases.models import (
    Base,
    Case,
    CaseAllegation,
    DisciplinaryOutcome,
    Finding,
    Grant,
    Implicated,
    ListEntry,
    RemediationAction,
    ReporterEvent,
    RetaliationFlag,
)
from cases.settings import Settings
from cases.vocabulary import ALLEGATION_TYPES, CATEGORIES, CHANNELS, DISCIPLINARY_ACTIONS, ROOT_CAUSES, SUBJECT_TYPES
from crypto.kdf import Argon2Params

PASSWORD = "benchmark password"
TODAY = datetime.now(UTC).date()
ROOT = Path(__file__).resolve().parent.parent


def _weighted(rng: random.Random, choices: dict[str, float]) -> str:
    return rng.choices(list(choices), weights=list(choices.values()))[0]


def case_rows(number: int, rng: random.Random, units: list[int], countries: list[int]) -> dict:
    """One case's plain metadata, its lifecycle dates following from its age."""
    received = TODAY - timedelta(days=rng.randint(0, 690))
    age = (TODAY - received).days
    if age > 270:
        status = "closed" if rng.random() < 0.95 else rng.choice(["investigating", "concluded"])
    elif age > 120:
        status = rng.choice(["investigating", "concluded", "closed", "closed"])
    elif age > 7:
        status = rng.choice(["acknowledged", "investigating", "investigating", "escalated"])
    else:
        status = rng.choice(["received", "acknowledged"])
    row: dict = {
        "id": number,
        "reference": f"{received.year}-{number:07d}",
        "category": _weighted(rng, {code: 3 if code in ("third_party", "gifts_hospitality") else 1 for code in CATEGORIES}),
        "channel": _weighted(rng, {"web": 70, "phone": 15, "email": 8, "letter": 4, "meeting": 3}),
        "routing": "audit_committee" if rng.random() < 0.05 else "compliance_officer",
        "status": status,
        "received_on": received,
        "acknowledge_by": received + timedelta(days=7),
        "feedback_by": received + timedelta(days=97),
        "retaliation_flag": False,
    }
    assert row["channel"] in CHANNELS
    if status != "received":
        acknowledged = received + timedelta(days=min(rng.choice([0, 1, 1, 2, 3, 5, 8, 12]), age))
        row["acknowledged_on"] = acknowledged
        if status != "acknowledged" or rng.random() < 0.5:
            assessed = min(acknowledged + timedelta(days=rng.randint(0, 20)), TODAY)
            row.update(
                assessed_on=assessed,
                admissibility="in_scope" if rng.random() < 0.85 else "out_of_scope",
                priority=rng.choice(["low", "medium", "medium", "high", "critical"]),
                detriment_risk=rng.choice(["low", "low", "medium", "high"]),
                business_unit_id=rng.choice(units),
                country_id=rng.choice(countries),
                investigation_due=assessed + timedelta(days=90),
            )
        if status in ("concluded", "closed") and rng.random() < 0.8:
            row["feedback_given_on"] = min(acknowledged + timedelta(days=rng.randint(20, 100)), TODAY)
    if status == "closed":
        row["closed_on"] = min(received + timedelta(days=rng.randint(20, 260)), TODAY)
        row["closure"] = "investigated" if row.get("admissibility") == "in_scope" else "out_of_scope"
    return row


async def fill(ctx: Context, count: int) -> None:
    async with ctx.sessions() as session:
        await initialise(session, ctx.today())
    async with ctx.sessions() as session:
        officer = await create_staff(session, ctx, email="co@bench.test", role="compliance_officer", password=PASSWORD)
    async with ctx.sessions() as session:
        member = await create_staff(session, ctx, email="ac@bench.test", role="audit_committee", password=PASSWORD)
    async with ctx.sessions() as session:  # one real report, whose sealed rows are copied
        await file_report(
            session,
            ctx,
            parse_report({"category": "other", "summary": "Cash to a customs inspector", "details": "x" * 1500}),
            [],
            ctx.today(),
        )
    async with ctx.sessions() as session, session.begin():
        template = await session.scalar(select(Case))
        grant = await session.scalar(select(Grant).where(Grant.holder == "staff"))
        units: list[int] = []
        countries: list[int] = []
        for kind, names, found in (("business_unit", 20, units), ("country", 40, countries)):
            for index in range(names):
                entry = ListEntry(kind=kind, label=f"{kind.replace('_', ' ').title()} {index + 1}")
                session.add(entry)
                await session.flush()
                found.append(entry.id)
    rng = random.Random(1)
    blob = dict(
        public_key=template.public_key,
        staff_public_key=template.staff_public_key,
        report_box=template.report_box,
        identity_box=template.identity_box,
    )
    start, batch = time.perf_counter(), 5000

    for first in range(2, count + 1, batch):
        rows: dict[type, list[dict]] = {model: [] for model in (Case, Grant, CaseAllegation, Finding, RemediationAction)}
        rows.update({DisciplinaryOutcome: [], RetaliationFlag: [], Implicated: []})
        for number in range(first, min(first + batch, count + 1)):
            case = case_rows(number, rng, units, countries)
            rows[Case].append({**case, **blob, "receipt_lookup": number.to_bytes(32, "big")})
            holder = member if case["routing"] == "audit_committee" else officer
            for staff in {holder.id, member.id} if case["status"] == "escalated" else {holder.id}:
                rows[Grant].append(
                    {
                        "case_id": number,
                        "holder": "staff",
                        "staff_id": staff,
                        "sealed_key": grant.sealed_key,
                        "staff_sealed_key": grant.staff_sealed_key,
                    }
                )
            if case.get("assessed_on"):
                for code in rng.sample(list(ALLEGATION_TYPES), rng.choice([1, 1, 2, 3])):
                    rows[CaseAllegation].append({"case_id": number, "code": code})
            if case["status"] in ("concluded", "closed") and case.get("admissibility") == "in_scope":
                outcome = _weighted(
                    rng, {"substantiated": 30, "partly_substantiated": 15, "unsubstantiated": 40, "insufficient_information": 15}
                )
                decided = min(case["received_on"] + timedelta(days=rng.randint(30, 200)), TODAY)
                substantiated = outcome in ("substantiated", "partly_substantiated")
                rows[Finding].append(
                    {
                        "case_id": number,
                        "outcome": outcome,
                        "narrative_box": template.report_box,
                        "root_cause": rng.choice(list(ROOT_CAUSES)) if substantiated else None,
                        "root_cause_box": template.report_box,
                        "decided_by": holder.id,
                        "decided_on": decided,
                    }
                )
                if substantiated:
                    for action in range(1, rng.choice([1, 2, 3]) + 1):
                        due = decided + timedelta(days=rng.randint(30, 180))
                        # Most actions past their date are done; one in ten is overdue.
                        late = due < TODAY and rng.random() < 0.9
                        rows[RemediationAction].append(
                            {
                                "case_id": number,
                                "number": action,
                                "what_box": template.report_box,
                                "owner_box": template.report_box,
                                "due_on": due,
                                "status": rng.choice(["done", "verified"] if late else ["open", "in_progress", "done"]),
                                "created_by": holder.id,
                                "created_on": decided,
                                "updated_on": decided,
                            }
                        )
                    for _ in range(rng.choice([1, 1, 2])):
                        rows[DisciplinaryOutcome].append(
                            {
                                "case_id": number,
                                "subject_box": template.report_box,
                                "subject_role": "staff",
                                "subject_type": _weighted(rng, {"employee": 80, "officer": 8, "director": 2, "third_party": 10}),
                                "action": rng.choice(list(DISCIPLINARY_ACTIONS)),
                                "effective_on": decided,
                                "decided_by": "HR",
                                "notes_box": template.report_box,
                                "recorded_by": holder.id,
                            }
                        )
            if rng.random() < 0.03:
                opened = case["received_on"] + timedelta(days=rng.randint(0, min(60, (TODAY - case["received_on"]).days)))
                resolved = opened + timedelta(days=rng.randint(1, 40))
                done = resolved <= TODAY and rng.random() < 0.85
                rows[RetaliationFlag].append(
                    {
                        "case_id": number,
                        "number": 1,
                        "source": rng.choice(["reporter", "hr_match", "check_in"]),
                        "opened_on": opened,
                        "respond_by": opened + timedelta(days=14),
                        "status": "resolved" if done else rng.choice(["open", "under_review"]),
                        "resolution": "remedy" if done else None,
                        "resolved_on": resolved if done else None,
                    }
                )
                rows[Case][-1]["retaliation_flag"] = True
            if rng.random() < 0.002:
                rows[Implicated].append(
                    {"case_id": number, "staff_id": officer.id, "named_by": member.id, "named_on": case["received_on"]}
                )
        async with ctx.sessions() as session, session.begin():
            for model, batch_rows in rows.items():
                if batch_rows:
                    await session.execute(insert(model), batch_rows)
        print(f"  {min(first + batch - 1, count):,} cases ({time.perf_counter() - start:.0f} s)", flush=True)
    assert set(SUBJECT_TYPES) >= {"employee", "officer", "director", "third_party"}


async def login(client: httpx.AsyncClient, email: str) -> None:
    await client.get("/staff/login")
    token = lambda: client.cookies.get("__Host-csrf") or client.cookies.get("csrf")  # noqa: E731
    await client.post("/staff/login", data={"email": email, "password": PASSWORD, "csrf_token": token()})
    found = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', (await client.get("/staff/enrol")).text)
    assert found, "no enrolment page"
    code = pyotp.TOTP(found.group(1).replace(" ", "")).now()
    response = await client.post("/staff/enrol", data={"code": code, "csrf_token": token()})
    assert response.status_code == 303, response.text


async def timed(client: httpx.AsyncClient, path: str, rounds: int, before=None) -> list[float]:
    times = []
    for _ in range(rounds):
        if before is not None:
            await before()
        start = time.perf_counter()
        response = await client.get(path)
        times.append(time.perf_counter() - start)
        assert response.status_code == 200, (path, response.status_code)
    return times


def percentile(times: list[float], share: float) -> float:
    """The nearest-rank percentile."""
    ordered = sorted(times)
    return ordered[min(len(ordered), math.ceil(len(ordered) * share)) - 1]


def summarise(runs: list[list[float]]) -> str:
    medians = [statistics.median(run) * 1000 for run in runs]
    p95 = percentile([t for run in runs for t in run], 0.95) * 1000
    return f"{statistics.median(medians):8.1f} ({min(medians):7.1f}-{max(medians):7.1f}) {p95:8.1f}"


async def main(count: int, database_url: str | None, rounds: int, runs_count: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        url = database_url or f"sqlite+aiosqlite:///{Path(directory)}/bench.db"
        settings = Settings(database_url=url, data_dir=Path(directory), argon2=Argon2Params(1, 8192))
        ctx = Context(settings)
        async with ctx.engine.begin() as connection:
            await connection.run_sync(Base.metadata.drop_all)
            await connection.run_sync(Base.metadata.create_all)
        print(f"filling {count:,} cases into {url.split('://')[0]}")
        await fill(ctx, count)
        # Fresh statistics and visibility maps, as autovacuum would give a database that has run a
        # while (without the visibility map, PostgreSQL reads the wide tables, not their covering indexes).
        async with ctx.engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.exec_driver_sql("VACUUM ANALYZE" if url.startswith("postgresql") else "ANALYZE")
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
            officer, member = httpx.AsyncClient(base_url=base, timeout=60), httpx.AsyncClient(base_url=base, timeout=60)
            await login(officer, "co@bench.test")
            await login(member, "ac@bench.test")
            eight = f"?from={TODAY.year - 1}-Q1&to={TODAY.year}-Q{(TODAY.month - 1) // 3 + 1}"
            # "counted": something was logged before each request (a reporter's event, written here,
            # untimed), so the figures are counted again; "kept": nothing changed since the last request.
            bumper = Context(settings)

            async def bump() -> None:
                async with bumper.sessions() as session, session.begin():
                    session.add(ReporterEvent(day=TODAY, action="bench.bump", case_id=2))

            pages = {
                "dashboard, Committee, 4 quarters, counted": (member, "/staff/dashboard", rounds, bump),
                "dashboard, Committee, 4 quarters, kept": (member, "/staff/dashboard", rounds, None),
                "dashboard, Committee, 8 quarters, counted": (member, "/staff/dashboard" + eight, rounds, bump),
                "dashboard, Compliance Officer, 4 q., counted": (officer, "/staff/dashboard", rounds, bump),
                "dashboard, Compliance Officer, 4 q., kept": (officer, "/staff/dashboard", rounds, None),
                "board pack, 4 quarters, counted": (member, "/staff/dashboard/board-pack.pdf", max(2, rounds // 5), bump),
                "board pack, 8 quarters, counted": (member, "/staff/dashboard/board-pack.pdf" + eight, max(2, rounds // 5), bump),
            }
            for client, path, _, _ in pages.values():  # warm up: caches, connections, compiled templates
                await timed(client, path, 2)
            runs: dict[str, list[list[float]]] = {label: [] for label in pages}
            for _ in range(runs_count):  # interleaved, so drift on a noisy machine hits all alike
                for label, (client, path, n, before) in pages.items():
                    runs[label].append(await timed(client, path, n, before))
            await bumper.close()
            print(f"\n{runs_count} runs per page (uvicorn over loopback, the whole request); ms")
            print(f"{'page':44} {'requests':>8} {'p50 (spread of run medians)':>28} {'p95':>8}")
            for label, (_, _, n, _) in pages.items():
                print(f"{label:44} {n * runs_count:8d} {summarise(runs[label]):>37}")
            await officer.aclose()
            await member.aclose()
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--database-url")
    parser.add_argument("--rounds", type=int, default=20, help="dashboard requests per page in each run (board packs: a fifth)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.cases, args.database_url, args.rounds, args.runs))
