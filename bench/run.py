"""`make bench`: the read side's targets (issue 3), measured on SQLite and PostgreSQL in one run.

- catch-up: a full replay of the stored events into scratch view tables, events/s;
- API write throughput through gunicorn (signed-in follow-ups on random cases), writes/s;
- workload GET through gunicorn at a small and at a large store: throughput and p99.
Results go to docs/benchmarks.md (and bench/results.json)."""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

from bench.generate import BENCH_PASSWORD, generate
from cases.settings import PROJECT_ROOT, Settings, build_application, init_store
from cases.store import StoreConfig
from cases.wilayah import DEFAULT_WILAYAH_CSV
from projections.db import ViewDB
from projections.maintenance import init_views, replay_into
from tests.servers import Gunicorn, token

SMALL = int(os.environ.get("BENCH_SMALL_EVENTS", "1000"))
LARGE = int(os.environ.get("BENCH_EVENTS", "100000"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "8"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "4"))
POSTGRES_URL = os.environ.get("PILAR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def fresh_settings(kind: str, workdir: Path) -> Settings:
    if kind == "sqlite":
        url = f"sqlite:///{workdir / 'bench.db'}"
    else:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        url = f"{POSTGRES_URL}?schema={schema}"
    settings = Settings(instance_path=workdir / "instance", store=StoreConfig(url), wilayah_csv=DEFAULT_WILAYAH_CSV,
                        secret_key="bench-key", max_body_bytes=65536)
    init_store(settings)
    init_views(settings)
    return settings


def drop(settings: Settings) -> None:
    if settings.store.kind == "postgres":
        schema = settings.store.url.split("schema=")[1]
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def catch_up_rate(settings: Settings) -> dict:
    app = build_application(settings)
    conn = ViewDB(settings.store).connect()
    try:
        start = time.perf_counter()
        with conn.transaction():
            position = replay_into(app, conn, "view")
        elapsed = time.perf_counter() - start
    finally:
        conn.close()
        app.close()
    return {"events": position, "seconds": round(elapsed, 3), "events_per_s": round(position / elapsed)}


def load(url: str, bearer: str, mode: str, targets: list[str], seconds: float = SECONDS,
         clients: int = CLIENTS) -> dict:
    processes = [
        subprocess.Popen([sys.executable, "-m", "bench.load", url, bearer, mode, str(seconds), str(seed),
                          ",".join(targets)], cwd=PROJECT_ROOT, stdout=subprocess.PIPE)
        for seed in range(clients)
    ]
    results = [json.loads(p.communicate(timeout=seconds + 120)[0]) for p in processes]
    latencies = sorted(x for r in results for x in r["latencies"])
    statuses: dict[str, int] = {}
    for r in results:
        for code, n in r["statuses"].items():
            statuses[code] = statuses.get(code, 0) + n
    return {
        "requests": len(latencies),
        "per_s": round(len(latencies) / seconds, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
        "statuses": statuses,
    }


def project_now(settings: Settings) -> None:
    from projections.workload import WorkloadProjector

    app = build_application(settings)
    conn = ViewDB(settings.store).connect()
    try:
        projector = WorkloadProjector(conn, app.mapper)
        position = projector.position()
        while batch := app.recorder.select_notifications(start=position, limit=5000, inclusive_of_start=False):
            position = projector.process(batch)
    finally:
        conn.close()
        app.close()


def bench_store(kind: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        settings = fresh_settings(kind, Path(tmp))
        try:
            app = build_application(settings)
            print(f"[{kind}] generating {SMALL} events", flush=True)
            generate(app, SMALL, seed=1)
            case_ids = [str(row[0]) for row in _some_cases(settings, 50)]
            app.close()
            project_now(settings)
            result: dict = {"store": kind}
            with Gunicorn(settings, workers=2) as server:
                bearer = token(server.url, "bench.pkh", BENCH_PASSWORD)
                supervisor = _supervisor(settings, server.url)
                result["hello"] = load(server.url, bearer, "hello", ["-"])
                result["workload_small"] = load(server.url, supervisor, "workload", ["pkh", "tksk", "psm"])
                pkh_cases = [c for c, pillar in _some_cases(settings, 400) if pillar == "pkh"][:50]
                result["writes"] = load(server.url, bearer, "write", pkh_cases)
            app = build_application(settings)
            print(f"[{kind}] generating up to {LARGE} events", flush=True)
            generate(app, max(LARGE - (app.recorder.max_notification_id() or 0), 0), seed=2)
            app.close()
            result["catch_up"] = catch_up_rate(settings)
            with Gunicorn(settings, workers=2) as server:
                supervisor = _supervisor(settings, server.url)
                result["workload_large"] = load(server.url, supervisor, "workload", ["pkh", "tksk", "psm"])
                result["case_list_large"] = load(server.url, supervisor, "list", ["pkh", "tksk", "psm"])
            del case_ids
            return result
        finally:
            drop(settings)


def _supervisor(settings: Settings, url: str) -> str:
    from cases.access import SYSTEM
    from cases.errors import RuleBroken

    app = build_application(settings)
    try:
        app.add_user(SYSTEM, "bench.dinsos", "supervisor", None, BENCH_PASSWORD)
    except RuleBroken:
        pass
    finally:
        app.close()
    return token(url, "bench.dinsos", BENCH_PASSWORD)


def _some_cases(settings: Settings, limit: int) -> list[tuple]:
    conn = ViewDB(settings.store).connect()
    try:
        project_now(settings)
        return conn.all("SELECT case_id, pillar FROM view_cases WHERE status <> 'closed' LIMIT ?", (limit,))
    finally:
        conn.close()


def report(results: list[dict]) -> str:
    lines = ["# Benchmarks", "",
             f"Measured by `make bench` on this project's 2-core machine; {CLIENTS} client processes, "
             f"{SECONDS:.0f} s per load, gunicorn with 2 workers × 4 threads. Small store: {SMALL} events; "
             f"large store: {LARGE} events (set `BENCH_EVENTS=1000000` for the full-size run).", "",
             "| measure | " + " | ".join(r["store"] for r in results) + " |",
             "|---|" + "---|" * len(results)]

    def row(label: str, fn) -> None:
        lines.append(f"| {label} | " + " | ".join(fn(r) for r in results) + " |")

    row("catch-up (full replay), events/s", lambda r: f"{r['catch_up']['events_per_s']:,}")
    row("API writes through gunicorn, writes/s (p50 / p99 ms)",
        lambda r: f"{r['writes']['per_s']} ({r['writes']['p50_ms']} / {r['writes']['p99_ms']})")
    row("**catch-up ÷ write throughput** (target ≥ 3)",
        lambda r: f"**{r['catch_up']['events_per_s'] / max(r['writes']['per_s'], 1):.1f}×**")
    row("baseline: hello-world GET /healthz, req/s", lambda r: f"{r['hello']['per_s']}")
    row(f"workload GET at {SMALL} events, req/s (p99 ms)",
        lambda r: f"{r['workload_small']['per_s']} ({r['workload_small']['p99_ms']})")
    row(f"workload GET at {LARGE} events, req/s (p99 ms)",
        lambda r: f"{r['workload_large']['per_s']} ({r['workload_large']['p99_ms']})")
    row("**workload cost, large ÷ small store** (target ≈ 1)",
        lambda r: f"**{r['workload_small']['per_s'] / max(r['workload_large']['per_s'], 1):.2f}×**")
    row(f"case list GET at {LARGE} events, req/s (p99 ms)",
        lambda r: f"{r['case_list_large']['per_s']} ({r['case_list_large']['p99_ms']})")
    row("non-2xx answers", lambda r: str(sum(n for k in ("hello", "workload_small", "writes", "workload_large",
                                                         "case_list_large")
                                             for code, n in r[k]["statuses"].items() if not code.startswith("2"))))
    lines += ["", "Raw figures: `bench/results.json`."]
    return "\n".join(lines) + "\n"


def main() -> None:
    kinds = os.environ.get("BENCH_STORES", "sqlite,postgres").split(",")
    results = [bench_store(kind) for kind in kinds]
    (PROJECT_ROOT / "bench" / "results.json").write_text(json.dumps(results, indent=2))
    (PROJECT_ROOT / "docs" / "benchmarks.md").write_text(report(results))
    print(report(results))


if __name__ == "__main__":
    main()
