"""Sizing: how many writes/s one PostgreSQL takes with Pilar, through one and then two gunicorn
servers (a projection process keeping the views current meanwhile), and how much CPU the
PostgreSQL server spent per write. Writes follow-ups (the commonest write) on open cases for
BENCH_SECONDS (default 10) each way; the figures go to bench/several_servers.json and stdout.

Run: .venv/bin/python -m bench.several_servers (PostgreSQL on 127.0.0.1:5432, as for `make bench`)."""

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

from bench.generate import BENCH_PASSWORD, ensure_staff
from bench.stores import drop, fresh_settings
from pilar.bootstrap import bootstrap
from pilar.settings import PROJECT_ROOT
from testkit import factories
from testkit.servers import Gunicorn, token

SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
CLIENTS_PER_SERVER = int(os.environ.get("BENCH_CLIENTS_PER_SERVER", "4"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
CASES = 40
TICKS = os.sysconf("SC_CLK_TCK")


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


def open_cases(settings) -> list[str]:
    services = bootstrap(settings)
    try:
        app = services.cases
        worker = ensure_staff(app)["pkh"]
        ids = []
        for n in range(CASES):
            body = factories.person(birth_date=f"19{40 + n % 50}-0{1 + n % 9}-{1 + n % 28:02d}")
            person = app.register_beneficiary(worker, nik=body["nik"], name=body["name"],
                                              birth_date=date.fromisoformat(body["birth_date"]), sex=body["sex"],
                                              desa_code=body["desa_code"])
            ids.append(str(app.open_case(worker, beneficiary_id=person.id, pillar="pkh", priority="normal",
                                         referral={"source": "musdes", "referred_by": "Kades", "reason": "bench"},
                                         categories=["fakir_miskin"]).id))
        return ids
    finally:
        services.close()


def postgres_cpu_seconds() -> float:
    """CPU time spent so far by this machine's PostgreSQL processes (server and backends)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)
            if fields[0].endswith("(postgres"):
                values = fields[1].split()
                total += int(values[11]) + int(values[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            continue
    return total / TICKS


def write_load(servers: list[Gunicorn], bearer: str, case_ids: list[str]) -> dict:
    """Every server gets CLIENTS_PER_SERVER client processes, all at once, for SECONDS."""
    batches: list[list[dict]] = [[] for _ in servers]

    def drive(n: int) -> None:
        batches[n] = _clients(servers[n].url, bearer, "write", case_ids, SECONDS, CLIENTS_PER_SERVER)

    cpu_before = postgres_cpu_seconds()
    threads = [threading.Thread(target=drive, args=(n,)) for n in range(len(servers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cpu = postgres_cpu_seconds() - cpu_before
    summary = _summary([r for batch in batches for r in batch], SECONDS)
    summary["postgres_cpu_s_per_s"] = round(cpu / SECONDS, 2)
    writes = summary["statuses"].get("200", 0)
    summary["postgres_cpu_ms_per_write"] = round(cpu * 1000 / writes, 2) if writes else None
    return summary


def main() -> None:
    settings = fresh_settings("postgres", Path(tempfile.mkdtemp(prefix="pilar-servers-")))
    servers: list[Gunicorn] = []
    try:
        case_ids = open_cases(settings)
        servers = [Gunicorn(settings, workers=WORKERS, projector=(n == 0)).start() for n in range(2)]
        bearer = token(servers[0].url, "bench.pkh", BENCH_PASSWORD)
        results = {"machine": f"{os.cpu_count()} cores ({platform.machine()}), shared by the servers, PostgreSQL "
                              "and the load generator",
                   "seconds": SECONDS, "clients_per_server": CLIENTS_PER_SERVER, "workers_per_server": WORKERS,
                   "one_server": write_load(servers[:1], bearer, case_ids),
                   "two_servers": write_load(servers, bearer, case_ids),
                   "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    finally:
        for server in servers:
            server.stop()
        drop(settings)
    (PROJECT_ROOT / "bench" / "several_servers.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
