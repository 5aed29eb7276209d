"""`make bench`: Pilar's speed and memory targets on SQLite and PostgreSQL, each reported as an
absolute figure and as a ratio to a baseline measured in the same run on the same gunicorn
configuration (2 workers x 4 threads). Writes docs/benchmarks.md, docs/benchmarks.png and
bench/results.json.

Sizes come from the environment: BENCH_EVENTS (the large store, default 100,000; the targets
are stated for 1,000,000), BENCH_SECONDS per load (8), BENCH_CLIENTS load processes (4),
BENCH_STORES (sqlite,postgres)."""

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import psycopg

from bench.generate import BENCH_PASSWORD, ensure_staff, generate, generate_into, generate_parallel
from pilar.cases.access import SYSTEM
from pilar.cases.errors import RuleBroken
from pilar.bootstrap import bootstrap, init_store
from pilar.settings import PROJECT_ROOT, Settings
from pilar.store.config import StoreConfig
from pilar.cases.wilayah import DEFAULT_WILAYAH_CSV
from pilar.store.connection import ViewDB
from pilar.projections.maintenance import replay_into
from pilar.projections.schema import drop_statements
from pilar.projections.queries import WorkloadQueries
from pilar.store.connection import Readers
from pilar.projections.runner import Follower
from testkit.servers import Gunicorn, token

SMALL = int(os.environ.get("BENCH_SMALL_EVENTS", "10000"))
LARGE = int(os.environ.get("BENCH_EVENTS", "100000"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "8"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
# The store-size target asks for a difference under 10%, and single turns on this machine vary
# by more than that: twice the turns.
SIZE_ROUNDS = int(os.environ.get("BENCH_SIZE_ROUNDS", str(2 * ROUNDS)))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "4"))
GENERATORS = int(os.environ.get("BENCH_GENERATORS", "2"))
POSTGRES_URL = os.environ.get("PILAR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
PILLARS = ["pkh", "tksk", "psm", "pendamping_sosial"]


def fresh_settings(kind: str, workdir: Path) -> Settings:
    workdir.mkdir(parents=True, exist_ok=True)
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
    return settings


def _schema(settings: Settings) -> str:
    return settings.store.url.split("schema=")[1]


def settle(settings: Settings) -> None:
    """After a bulk load PostgreSQL has dead rows and no visibility map, and autovacuum would
    run in the middle of the measurements; an operator vacuums after an import, so does this."""
    if settings.store.kind == "postgres":
        schema = _schema(settings)
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))]
            for table in tables:
                conn.execute(f'VACUUM (ANALYZE) "{schema}"."{table}"')


def drop(settings: Settings) -> None:
    if settings.store.kind == "postgres":
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {_schema(settings)} CASCADE")


def _clients(url: str, bearer: str, mode: str, targets: list[str], seconds: float, clients: int) -> list[dict]:
    processes = [
        subprocess.Popen([sys.executable, "-m", "bench.load", url, bearer, mode, str(seconds), str(seed),
                          ",".join(targets)], cwd=PROJECT_ROOT, stdout=subprocess.PIPE)
        for seed in range(clients)
    ]
    return [json.loads(p.communicate(timeout=seconds + 120)[0]) for p in processes]


def _summary(results: list[dict], seconds: float) -> dict:
    latencies = sorted(x for r in results for x in r["latencies"])
    statuses: dict[str, int] = {}
    for r in results:
        for code, n in r["statuses"].items():
            statuses[code] = statuses.get(code, 0) + n
    ok = sum(n for code, n in statuses.items() if code.startswith("2"))
    return {"requests": len(latencies), "per_s": round(len(latencies) / seconds, 1),
            "ok_per_s": round(ok / seconds, 1),
            "p50_ms": round(statistics.median(latencies) * 1000, 2),
            "p99_ms": round(latencies[max(int(len(latencies) * 0.99) - 1, 0)] * 1000, 2), "statuses": statuses}


def load(url: str, bearer: str, mode: str, targets: list[str], seconds: float = SECONDS,
         clients: int = CLIENTS) -> dict:
    return _summary(_clients(url, bearer, mode, targets, seconds, clients), seconds)


def alternate(loads: dict[str, tuple], rounds: int = ROUNDS, seconds: float = SECONDS) -> dict[str, dict]:
    """Loads that are compared with each other, run in turns (a, b, a, b, ...) on the same cases.
    Every write adds a follow-up to its case, so cases grow as a benchmark runs; in turns,
    neither side meets larger cases than the other, and a passing disturbance hits both."""
    results: dict[str, list[dict]] = {name: [] for name in loads}
    per_round: dict[str, list[float]] = {name: [] for name in loads}
    for _ in range(rounds):
        for name, arguments in loads.items():
            batch = _clients(*arguments, seconds, CLIENTS)
            results[name] += batch
            per_round[name].append(_summary(batch, seconds)["ok_per_s"])
    return {name: _summary(results[name], seconds * rounds) | {"rounds": per_round[name]} for name in loads}


def catch_up(settings: Settings) -> int:
    services = bootstrap(settings)
    app = services.cases
    conn = ViewDB(settings.store).connect()
    try:
        follower = Follower(app, conn, settings.audit_key(), 5000)
        while follower.step():
            pass
        return follower.position
    finally:
        conn.close()
        services.close()


def open_case_shapes(settings: Settings, pillar: str = "pkh") -> list[tuple[str, int, str]]:
    """(case id, version, status) of every open case of the pillar."""
    readers = Readers(settings.store)
    try:
        with readers.connection() as conn:
            return [tuple(r) for r in conn.all("SELECT case_id, version, status FROM view_cases "
                                               "WHERE status <> 'closed' AND pillar = ? ORDER BY case_id",
                                               (pillar,))]
    finally:
        readers.close()


def open_cases(settings: Settings, count: int, pillar: str = "pkh") -> list[str]:
    return [case_id for case_id, _, _ in open_case_shapes(settings, pillar)[:count]]


def cases_shaped_like(settings: Settings, shapes: list[tuple[str, int, str]], pillar: str = "pkh",
                      exclude: list[str] = ()) -> list[str]:
    """For each given case, another open case with as many events and the same status, none of
    them the given ones (nor `exclude`): writes at the small and the large store then meet cases
    of one shape, and only the store's size differs."""
    taken = {case_id for case_id, _, _ in shapes} | set(exclude)
    free: dict[tuple[int, str], list[str]] = {}
    for case_id, version, status in open_case_shapes(settings, pillar):
        if case_id not in taken:
            free.setdefault((version, status), []).append(case_id)
    chosen = []
    for _, version, status in shapes:
        # The nearest version of the same status when no case has exactly as many events.
        candidates = sorted((k for k, ids in free.items() if k[1] == status and ids), key=lambda k: abs(k[0] - version))
        if not candidates:
            raise RuntimeError(f"no open {pillar} case left shaped like version {version}, {status}: "
                               "the store is too small for the targets asked of it (raise BENCH_EVENTS)")
        chosen.append(free[candidates[0]].pop())
    return chosen


def raw_save_rate(settings: Settings, case_ids: list[str], seconds: float = 5.0) -> dict:
    """(c) eventsourcing's own rate for the same work in one process, no HTTP."""
    services = bootstrap(settings)
    app = services.cases
    due = date.today() + timedelta(days=30)
    count, deadline = 0, time.perf_counter() + seconds
    try:
        while time.perf_counter() < deadline:
            case = app.repository.get(uuid.UUID(case_ids[count % len(case_ids)]))
            case.schedule_follow_up(actor="bench", due_on=due, purpose="raw")
            app.save(case)
            count += 1
    finally:
        services.close()
    return {"saves": count, "per_s": round(count / seconds, 1)}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def lag_under_write_load(settings: Settings, server: Gunicorn, bearer: str, case_ids: list[str]) -> dict:
    """Projection lag while writing flat out: how long until the views reach the newest position."""
    services = bootstrap(settings)
    app = services.cases
    readers = Readers(settings.store)
    queries = WorkloadQueries(readers)
    lags: list[float] = []
    stop = threading.Event()

    def probe() -> None:
        while not stop.is_set():
            head, start = app.recorder.max_notification_id() or 0, time.perf_counter()
            while queries.position() < head and time.perf_counter() - start < 30:
                time.sleep(0.005)
            lags.append(time.perf_counter() - start)
            stop.wait(0.1)

    prober = threading.Thread(target=probe)
    prober.start()
    writes = load(server.url, bearer, "write", case_ids)
    stop.set()
    prober.join()
    readers.close()
    services.close()
    lags.sort()
    return {"samples": len(lags), "p50_s": round(statistics.median(lags), 3),
            "p99_s": round(lags[max(int(len(lags) * 0.99) - 1, 0)], 3), "writes_per_s": writes["per_s"]}


def verify_rate(settings: Settings) -> dict:
    from pilar.audit.seals import verify

    services = bootstrap(settings)

    app = services.cases
    conn = ViewDB(settings.store).connect()
    try:
        start = time.perf_counter()
        result = verify(app.recorder, conn, settings.audit_key())
        elapsed = time.perf_counter() - start
    finally:
        conn.close()
        services.close()
    return {"ok": result.ok, "events": result.checked, "seconds": round(elapsed, 2),
            "events_per_s": round(result.checked / elapsed)}


def rebuild_rate(settings: Settings) -> dict:
    services = bootstrap(settings)
    app = services.cases
    conn = ViewDB(settings.store).connect()
    try:
        start = time.perf_counter()
        with conn.transaction():
            position = replay_into(app, conn, f"bench{os.getpid()}")
            for statement in drop_statements(f"bench{os.getpid()}"):
                conn.execute(statement)
        elapsed = time.perf_counter() - start
    finally:
        conn.close()
        services.close()
    return {"events": position, "seconds": round(elapsed, 2), "events_per_s": round(position / elapsed)}


def case_load_ratio(settings: Settings) -> dict:
    """A 1,000-event case against a 10-event case. Snapshots (every 50 events) bound the replay,
    so what remains is the size of the state: measured once with events that replace state
    (re-assessments, reassignments) and once with events that add to it (follow-ups)."""
    services = bootstrap(settings)
    app = services.cases
    try:
        worker = ensure_staff(app)["psm"]  # cases no load above has written to
        due = date.today() + timedelta(days=1)
        grow = lambda case: case.schedule_follow_up(actor=worker.username, due_on=due, purpose="long")  # noqa: E731
        replace = lambda case: (case.assess(actor=worker.username, needs=["care"], risk="low", desil=None, summary="again")  # noqa: E731
                                if case.version % 2 else case.assign(actor=worker.username, worker=worker.username))
        timings = {}
        for name, events, step, case_text in zip(("short", "replacing", "growing"), (10, 1000, 1000), (replace, replace, grow),
                                                 open_cases(settings, 3, pillar="psm")):
            case_id = uuid.UUID(case_text)
            case = app.repository.get(case_id)
            while case.version < events:
                step(case)
                app.save(case)
            app.repository.get(case_id)
            start = time.perf_counter()
            for _ in range(50):
                app.repository.get(case_id)
            timings[name] = {"version": case.version, "ms": round((time.perf_counter() - start) / 50 * 1000, 3)}
        timings["ratio"] = round(timings["replacing"]["ms"] / timings["short"]["ms"], 2)
        timings["ratio_growing"] = round(timings["growing"]["ms"] / timings["short"]["ms"], 2)
        return timings
    finally:
        services.close()


def bench_store(kind: str) -> dict:
    result: dict = {"store": kind, "small": SMALL, "large": LARGE}
    with tempfile.TemporaryDirectory() as tmp:
        settings = fresh_settings(kind, Path(tmp))
        # The small store's twin (same seed, so cases of the same shapes) stays small while the
        # first grows: writes to both run in turns at the end, so only the size differs.
        twin = fresh_settings(kind, Path(tmp) / "twin")
        os.environ.update(PILAR_DATABASE_URL=settings.store.url, PILAR_SECRET_KEY="bench-key",
                          PILAR_INSTANCE_PATH=str(settings.instance_path), PILAR_ACCESS_LOG="")
        try:
            services = bootstrap(settings)
            app = services.cases
            try:
                app.add_user(SYSTEM, "bench.dinsos", "supervisor", None, BENCH_PASSWORD)
            except RuleBroken:
                pass
            print(f"[{kind}] generating {SMALL} events", flush=True)
            generate(app, SMALL, seed=1)
            services.close()
            catch_up(settings)
            generate_into(twin, SMALL, seed=1, show_progress=False)
            catch_up(twin)
            shapes = open_case_shapes(settings)[:200]
            targets = [case_id for case_id, _, _ in shapes]
            with Gunicorn(settings, workers=2, app="bench.baselines:hello", ready_path="/hello") as server:
                result["a_hello"] = load(server.url, "-", "hello", ["-"])
            # Cases of another pillar, so that its many saves do not grow the cases the writes use.
            result["c_raw_save"] = raw_save_rate(settings, open_cases(settings, 200, pillar="tksk"))
            # Both write loads run while the projection process follows the store, as in production.
            with Gunicorn(settings, workers=2, app="bench.baselines:thin", ready_path="/thin") as thin, \
                    Gunicorn(settings, workers=2, projector=True) as server:
                writer = token(server.url, "bench.pkh", BENCH_PASSWORD)
                reader = token(server.url, "bench.dinsos", BENCH_PASSWORD)
                compared = alternate({"thin": (thin.url, "-", "thin", targets),
                                      "write": (server.url, writer, "write", targets)})
                result["b_thin_write"], result["write_small"] = compared["thin"], compared["write"]
                result["workload_small"] = load(server.url, reader, "workload", PILLARS)
                result["lag"] = lag_under_write_load(settings, server, writer, targets)
                result["rss_mb"] = {"master": rss_mb(server.pids()[0]),
                                    "workers": [rss_mb(pid) for pid in server.pids()[1:]]}
                projector = subprocess.run(["pgrep", "-f", "pilar.cli project"], capture_output=True, text=True)
                result["rss_mb"]["projector"] = max((rss_mb(int(p)) for p in projector.stdout.split()), default=0)
            services = bootstrap(settings)
            app = services.cases
            missing = max(LARGE - (app.recorder.max_notification_id() or 0), 0)
            services.close()
            print(f"[{kind}] generating up to {LARGE} events", flush=True)
            generate_parallel(settings, missing, seed=2, processes=GENERATORS)
            start = time.perf_counter()
            caught = catch_up(settings)
            result["catch_up_live"] = {"seconds": round(time.perf_counter() - start, 2)}
            result["rebuild"] = rebuild_rate(settings)
            result["verify"] = verify_rate(settings)
            result["head"] = caught
            settle(settings)
            # Cases the writes above have not grown, shaped as those were before, so both sizes
            # start from cases of the same shape.
            fresh_targets = cases_shaped_like(settings, shapes)
            with Gunicorn(settings, workers=2, app="bench.baselines:thin", ready_path="/thin") as thin, \
                    Gunicorn(settings, workers=2, app="bench.baselines:hello", ready_path="/hello") as hello, \
                    Gunicorn(settings, workers=2, projector=True) as server:
                writer = token(server.url, "bench.pkh", BENCH_PASSWORD)
                reader = token(server.url, "bench.dinsos", BENCH_PASSWORD)
                compared = alternate({"hello": (hello.url, "-", "hello", ["-"]),
                                      "workload": (server.url, reader, "workload", PILLARS)})
                result["a_hello_large"], result["workload_large"] = compared["hello"], compared["workload"]
                result["workload_latency"] = load(server.url, reader, "workload", PILLARS, clients=1)
                result["list_large"] = load(server.url, reader, "list", PILLARS)
                compared = alternate({"thin": (thin.url, "-", "thin", fresh_targets),
                                      "write": (server.url, writer, "write", fresh_targets)})
                result["b_thin_write_large"], result["write_large"] = compared["thin"], compared["write"]
                with Gunicorn(twin, workers=2, projector=True) as small:
                    compared = alternate({
                        "small": (small.url, token(small.url, "bench.pkh", BENCH_PASSWORD), "write",
                                  cases_shaped_like(twin, shapes)),
                        "large": (server.url, writer, "write", cases_shaped_like(settings, shapes, exclude=fresh_targets))},
                        rounds=SIZE_ROUNDS)
                result["size_small"], result["size_large"] = compared["small"], compared["large"]
            result["case_load"] = case_load_ratio(settings)
            return result
        finally:
            drop(settings)
            drop(twin)


def targets(r: dict) -> list[tuple[str, str, float, str, bool]]:
    """(measure, figure, ratio, target, met) for the report and the chart."""
    write_vs_thin = r["write_small"]["ok_per_s"] / r["b_thin_write"]["ok_per_s"]
    workload_vs_hello = r["workload_large"]["ok_per_s"] / r["a_hello_large"]["ok_per_s"]
    catch_vs_write = r["rebuild"]["events_per_s"] / max(r["write_small"]["ok_per_s"], 1)
    # Runs before the twin store compared the sizes one after the other, on cases of one shape.
    small, large, how = ((r["size_small"], r["size_large"], "two stores, in turns") if "size_small" in r
                         else (r["write_small"], r["write_large"], "one after the other"))
    large_vs_small = large["ok_per_s"] / small["ok_per_s"]
    write_vs_thin_large = r["write_large"]["ok_per_s"] / r["b_thin_write_large"]["ok_per_s"]
    rows = [
        ("full write path ÷ thin write (b)",
         f"{r['write_small']['ok_per_s']} / {r['b_thin_write']['ok_per_s']} writes/s",
         write_vs_thin, "≥ 0.7", write_vs_thin >= 0.7),
        (f"full write path ÷ thin write (b) at {r['large']:,} events",
         f"{r['write_large']['ok_per_s']} / {r['b_thin_write_large']['ok_per_s']} writes/s",
         write_vs_thin_large, "≥ 0.7", write_vs_thin_large >= 0.7),
        (f"workload GET at {r['large']:,} events ÷ hello-world (a)",
         f"{r['workload_large']['ok_per_s']} / {r['a_hello_large']['ok_per_s']} req/s", workload_vs_hello, "≥ 0.7",
         workload_vs_hello >= 0.7),
        ("workload GET p99, one client (no queueing)", f"{r['workload_latency']['p99_ms']} ms",
         r["workload_latency"]["p99_ms"], "≤ 10 ms", r["workload_latency"]["p99_ms"] <= 10),
        ("catch-up ÷ write throughput", f"{r['rebuild']['events_per_s']:,} events/s", catch_vs_write, "≥ 3",
         catch_vs_write >= 3),
        ("projection lag p99 at full write load", f"{r['lag']['p99_s']} s", r["lag"]["p99_s"], "≤ 1 s",
         r["lag"]["p99_s"] <= 1),
        (f"writes at {r['large']:,} ÷ at {r['small']:,} events stored ({how})",
         f"{large['ok_per_s']} / {small['ok_per_s']} writes/s", large_vs_small, "0.9 to 1.1",
         0.9 < large_vs_small < 1.1),
        ("1,000-event case load ÷ 10-event case", f"{r['case_load']['replacing']['ms']} / "
         f"{r['case_load']['short']['ms']} ms", r["case_load"]["ratio"], "≤ 2", r["case_load"]["ratio"] <= 2),
        ("largest gunicorn worker RSS", f"{max(r['rss_mb']['workers'])} MB", max(r["rss_mb"]["workers"]),
         "≤ 150 MB", max(r["rss_mb"]["workers"]) <= 150),
    ]
    if r["store"] == "sqlite":
        rows.append(("catch-up on SQLite", f"{r['rebuild']['events_per_s']:,} events/s", r["rebuild"]["events_per_s"],
                     "≥ 10,000/s", r["rebuild"]["events_per_s"] >= 10_000))
    return rows


def _rate(figures: dict, unit: str = "writes/s") -> str:
    return (f"{figures['ok_per_s']} {unit} (turns: {', '.join(map(str, figures['rounds']))}), "
            f"p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms")


def report(results: list[dict]) -> str:
    lines = ["# Benchmarks", "",
             f"Written by `make bench` ({time.strftime('%Y-%m-%d')}) on this project's 2-core machine: "
             f"{CLIENTS} client processes on the same machine, {SECONDS:.0f} s per load, gunicorn with 2 workers × 4 "
             "threads for Pilar and for the baselines. A write and its baseline (b) take "
             f"{ROUNDS} turns each, alternately, on the same cases (and so do the workload GET and (a)), while the projection process follows the store "
             "(as in production): every write adds a follow-up, so cases grow as the run goes on, and turns "
             f"give both sides the same cases. Store size is compared the same way ({SIZE_ROUNDS} turns each): writes to the large store "
             f"and to a twin of the small one (the same seed, so cases of the same shapes) take turns, each on "
             f"untouched cases shaped as the first small-store targets were. Each section names its large store; the small store has "
             f"{SMALL:,} events (the targets are stated for 1,000,000: `BENCH_EVENTS=1000000 make bench`). Baselines, measured in the "
             "same run: (a) a hello-world Flask JSON endpoint; (b) the thinnest endpoint doing a write's store work "
             "(load a case, append one event, save; no validation, auth or extras); (c) eventsourcing's own save "
             "rate in one process without HTTP.", "", "![ratios to targets](benchmarks.png)", ""]
    for r in results:
        lines += [f"## {r['store']}, {r['large']:,} events", "", "| target | measured | ratio / value | target | met |", "|---|---|---|---|---|"]
        for name, figure, value, target, met in targets(r):
            lines.append(f"| {name} | {figure} | {value:.2f} | {target} | {'yes' if met else '**no**'} |")
        lines += ["", "| absolute figures | |", "|---|---|",
                  f"| (a) hello-world | {r['a_hello']['per_s']} req/s, p50 {r['a_hello']['p50_ms']} ms, "
                  f"p99 {r['a_hello']['p99_ms']} ms |",
                  f"| (a) hello-world, in turns with the workload GET at {r['large']:,} events | "
                  f"{_rate(r['a_hello_large'], 'req/s')} |",
                  f"| (b) thin write at {r['small']:,} events | {_rate(r['b_thin_write'])} |",
                  f"| (b) thin write at {r['large']:,} events | {_rate(r['b_thin_write_large'])} |",
                  f"| (c) eventsourcing raw save, one process | {r['c_raw_save']['per_s']} saves/s |",
                  f"| Pilar write (signed-in follow-up) at {r['small']:,} events | {_rate(r['write_small'])} |",
                  f"| Pilar write at {r['large']:,} events | {_rate(r['write_large'])} |",
                  *([f"| Pilar write, in turns: a {r['small']:,}-event store | {_rate(r['size_small'])} |",
                     f"| Pilar write, in turns: the {r['large']:,}-event store | {_rate(r['size_large'])} |"]
                    if "size_small" in r else []),
                  f"| workload GET at {r['small']:,} events | {r['workload_small']['per_s']} req/s, "
                  f"p99 {r['workload_small']['p99_ms']} ms |",
                  f"| workload GET at {r['large']:,} events | {_rate(r['workload_large'], 'req/s')} |",
                  f"| case list GET at {r['large']:,} events | {r['list_large']['per_s']} req/s, "
                  f"p99 {r['list_large']['p99_ms']} ms |",
                  f"| rebuild of every view at {r['rebuild']['events']:,} events | {r['rebuild']['seconds']} s "
                  f"({r['rebuild']['events_per_s']:,} events/s) |",
                  f"| verify at {r['verify']['events']:,} events | {r['verify']['seconds']} s "
                  f"({r['verify']['events_per_s']:,} events/s; 1,000,000 events ≈ "
                  f"{1_000_000 / r['verify']['events_per_s']:.0f} s) |",
                  f"| projection lag under full write load ({r['lag']['writes_per_s']} writes/s) | "
                  f"p50 {r['lag']['p50_s']} s, p99 {r['lag']['p99_s']} s ({r['lag']['samples']} samples) |",
                  f"| RSS | master {r['rss_mb']['master']} MB, workers {r['rss_mb']['workers']} MB, projector "
                  f"{r['rss_mb']['projector']} MB |",
                  f"| case load (snapshots every 50 events) | {r['case_load']['short']['version']} events "
                  f"{r['case_load']['short']['ms']} ms; {r['case_load']['replacing']['version']} events replacing state "
                  f"{r['case_load']['replacing']['ms']} ms; {r['case_load']['growing']['version']} events adding "
                  f"follow-ups {r['case_load']['growing']['ms']} ms ({r['case_load']['ratio_growing']}×: the state "
                  "itself is 100× larger) |",
                  ""]
    lines.append("Raw figures: `bench/results.json`.")
    return "\n".join(lines) + "\n"


def _is_ratio(target: str) -> bool:
    """Targets on ratios are bare numbers ("≥ 0.7", "0.9 to 1.1"); the rest carry a unit."""
    return re.fullmatch(r"[^a-zA-Z/]+|[0-9.]+ to [0-9.]+", target) is not None


def chart(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ratio_rows = [(name, value, target) for name, _f, value, target, _m in targets(results[0]) if _is_ratio(target)]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    width = 0.8 / len(results)
    for i, r in enumerate(results):
        values = [value for name, _f, value, target, _m in targets(r) if _is_ratio(target)]
        ax.barh([y + i * width for y in range(len(values))], values, height=width,
                label=f"{r['store']}, {r['large']:,} events")
    for y, (_name, _value, target) in enumerate(ratio_rows):
        for threshold in re.findall(r"[0-9.]+", target):
            ax.plot([float(threshold)] * 2, [y - 0.2, y + 0.8], color="black", linestyle="--", linewidth=1)
    ax.set_yticks([y + 0.4 - width / 2 for y in range(len(ratio_rows))])
    ax.set_yticklabels([f"{name} ({target})" for name, _v, target in ratio_rows], fontsize=8)
    ax.set_xlabel("ratio (dashed line: target)")
    ax.set_xscale("log")
    ax.legend()
    ax.set_title("Pilar: ratios to same-run baselines")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    kinds = os.environ.get("BENCH_STORES", "sqlite,postgres").split(",")
    fresh = [bench_store(kind) for kind in kinds]
    # Runs at other sizes (e.g. a long 1,000,000-event run of one store) are kept beside these.
    path = PROJECT_ROOT / "bench" / "results.json"
    earlier = json.loads(path.read_text()) if path.exists() else []
    replaced = {(r["store"], r["large"]) for r in fresh}
    # Only runs measured the same way (in turns with their baselines, on cases of one shape at both sizes).
    results = [r for r in earlier if ("size_small" in r or "large_targets" in r) and (r["store"], r["large"]) not in replaced] + fresh
    results.sort(key=lambda r: (r["large"], r["store"]))
    path.write_text(json.dumps(results, indent=2))
    (PROJECT_ROOT / "docs" / "benchmarks.md").write_text(report(results))
    chart(results, PROJECT_ROOT / "docs" / "benchmarks.png")
    print(report(results))


if __name__ == "__main__":
    main()
