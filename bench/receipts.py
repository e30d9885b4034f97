"""Follow-up with a right and a wrong receipt: is "unknown" as slow as a hit?

In-process (httpx over ASGI, no network), on a temporary SQLite database,
with the default Argon2id parameters. Prints medians and the miss/hit ratio.

    .venv/bin/python bench/receipts.py [--rounds 40]
"""

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from asgi import create_app
from cases.installation import initialise
from cases.models import Base
from cases.settings import Settings

REPORT = {"category": "other", "summary": "Benchmark report", "details": "x" * 2000}


async def main(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        settings = Settings(database_url=f"sqlite+aiosqlite:///{Path(directory)}/bench.db", data_dir=Path(directory))
        app = create_app(settings)
        ctx = app.state.ctx
        async with ctx.engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        async with ctx.sessions() as session:
            await initialise(session, ctx.today())
        transport = httpx.ASGITransport(app=app)
        async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="https://b") as client:
            filing: list[float] = []
            hits: list[float] = []
            misses: list[float] = []
            receipts = []
            for _ in range(rounds):
                start = time.perf_counter()
                response = await client.post("/api/v1/reports", json=REPORT)
                filing.append(time.perf_counter() - start)
                receipts.append(response.json()["receipt"])
            for receipt in receipts:  # interleave, so drift hits both alike
                for sink, value, status in ((hits, receipt, 200), (misses, "0000-0000-0000-0000", 404)):
                    start = time.perf_counter()
                    response = await client.post("/api/v1/follow-up", json={"receipt": value})
                    sink.append(time.perf_counter() - start)
                    assert response.status_code == status

    def ms(values):
        return (
            f"{statistics.median(values) * 1000:7.1f} ms median, p95 {sorted(values)[int(len(values) * 0.95) - 1] * 1000:7.1f} ms"
        )

    print(f"Argon2id ops={settings.argon2.opslimit} mem={settings.argon2.memlimit // 2**20} MiB, {rounds} rounds")
    print(f"file a report          {ms(filing)}")
    print(f"follow-up, right receipt {ms(hits)}")
    print(f"follow-up, wrong receipt {ms(misses)}")
    print(f"wrong/right median ratio {statistics.median(misses) / statistics.median(hits):.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=40)
    asyncio.run(main(parser.parse_args().rounds))
