"""`make import-bench`: how fast `pilar import` brings a list in, whether its memory stays flat, and
what a concurrent API writer waits meanwhile (issue 17: 50,000 rows on SQLite in under 5 minutes).

Generates a `cases` file of BENCH_IMPORT_ROWS rows (default 50,000; made-up people from
testkit/factories.py, never real ones) and one a tenth as long, on a fresh SQLite store per run,
and imports each with `pilar import --as <a supervisor>` as an operator would (a child process:
every row registers a person and opens their case through the application service; rows are
committed in batches, pilar/api/bulk/importer.py). Then BENCH_IMPORT_WRITER_ROWS rows (default: the
short file's) once more, while a server (one worker, with its projection process) answers a
client registering a person every WRITER_PAUSE seconds, first for WRITER_ALONE seconds without an
import: the registrations' times with and without the import, side by side, are what a writer
waits for the import's batches.

BENCH_IMPORT_STORE=postgres runs the same on PostgreSQL (bench/import_bench_postgres.json).

Prints and writes to bench/import_bench.json: rows, seconds, rows/s, the import's CPU per row,
its SQLite commits per row and longest write transaction (bench/traced_pilar.py), the load
average, the import's peak RSS (close together for both lengths: memory does not grow with the
file), and the concurrent writes' times."""

import csv
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

import requests

from bench.stores import drop, fresh_settings
from pilar.api.bulk.templates import KINDS
from pilar.bootstrap import bootstrap
from pilar.cases.access import SYSTEM
from pilar.settings import PROJECT_ROOT, Settings
from testkit.factories import case_rows, nik_for, person
from testkit.servers import Gunicorn, pilar_env, token

ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "50000"))
STORE = os.environ.get("BENCH_IMPORT_STORE", "sqlite")  # or postgres (commits are traced on SQLite only)
WRITER_ROWS = int(os.environ.get("BENCH_IMPORT_WRITER_ROWS", str(max(ROWS // 10, 1))))  # the run with a writer
RESULTS = PROJECT_ROOT / "bench" / ("import_bench.json" if STORE == "sqlite" else f"import_bench_{STORE}.json")
USER, PASSWORD = "bench.koordinator", "bench-import-password"
WRITER_PAUSE = 0.1  # seconds between the concurrent client's registrations
WRITER_ALONE = 10.0  # seconds it writes before the import starts: what its writes take without one


def _file(path: Path, rows: int) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, KINDS["cases"].header)
        writer.writeheader()
        for start in range(0, rows, 5000):  # generated in slices: the generator's memory is not the importer's
            writer.writerows(case_rows(min(5000, rows - start), first_serial=start + 1)[0])
    return path


def _import(settings: Settings, listed: Path, workdir: Path) -> dict:
    """`pilar import` in a child process, its own resource use (not the server's) read by wait4."""
    traced = workdir / "traced.json"
    with open(workdir / "out", "wb") as out, open(workdir / "err", "wb") as err:
        started = time.monotonic()
        child = subprocess.Popen([sys.executable, "-m", "bench.traced_pilar", str(traced), "import", str(listed),
                                  "--kind", "cases", "--as", USER], cwd=PROJECT_ROOT, env=pilar_env(settings),
                                 stdout=out, stderr=err)
        _, status, used = os.wait4(child.pid, 0)
        seconds = time.monotonic() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    progress = (workdir / "err").read_text(errors="replace")
    if child.returncode != 0:
        raise SystemExit(f"the import failed:\n{progress[-2000:]}")
    counts = json.loads((workdir / "out").read_text())["counts"]
    rows, writes = counts["rows_read"], json.loads(traced.read_text())
    lines = [line for line in progress.splitlines() if " rows: " in line]
    return {"rows": rows, "imported": counts["imported"],
            "seconds": round(seconds, 1), "rows_per_second": round(rows / seconds, 1),
            # CPU apart from the wall clock: on a shared machine the wall clock mostly measures the others.
            "cpu_ms_per_row": round((used.ru_utime + used.ru_stime) * 1000 / rows, 2),
            "commits_per_row": round(writes["commits"] / rows, 3) if STORE == "sqlite" else None,
            "longest_write_transaction_ms": round(writes["longest_write_transaction_ms"], 1) if STORE == "sqlite" else None,
            "load_average": round(os.getloadavg()[0], 1), "peak_rss_mib": round(used.ru_maxrss / 1024, 1),
            "file_mib": round(listed.stat().st_size / 2**20, 1), "progress_lines": len(lines),
            "last_progress": lines[-1] if lines else None}


class _Writer(threading.Thread):
    """Registers a new person every WRITER_PAUSE seconds through the API until stopped; each
    registration's time is kept under the phase it started in ("alone": before the import)."""

    def __init__(self, url: str, bearer: str):
        super().__init__(daemon=True)
        self.url, self.bearer = url, bearer
        self.stopping = threading.Event()
        self.phase = "alone"
        self.seconds: dict[str, list[float]] = {}
        self.statuses: dict[str, int] = {}

    def run(self) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {self.bearer}"
        serial = 0
        while not self.stopping.wait(WRITER_PAUSE):
            serial += 1
            born = date(1990, 1 + serial // 9999 % 12, 1)  # after 1979: no NIK of the imported file
            body = person(birth_date=born.isoformat(), nik=nik_for(born, "P", serial % 9999 + 1))
            phase, started = self.phase, time.perf_counter()
            answer = session.post(f"{self.url}/api/v1/beneficiaries", json=body, timeout=120)
            self.seconds.setdefault(phase, []).append(time.perf_counter() - started)
            self.statuses[str(answer.status_code)] = self.statuses.get(str(answer.status_code), 0) + 1

    def summary(self) -> dict:
        found: dict = {"statuses": self.statuses}
        for phase, seconds in self.seconds.items():
            times = sorted(seconds)
            found[phase] = {"writes": len(times), "median_ms": round(times[len(times) // 2] * 1000, 1),
                            "p99_ms": round(times[max(int(len(times) * 0.99) - 1, 0)] * 1000, 1),
                            "max_ms": round(times[-1] * 1000, 1)}
        return found


def _one(rows: int, workdir: Path, with_writer: bool) -> dict:
    settings = fresh_settings(STORE, workdir)
    try:
        services = bootstrap(settings)
        services.cases.add_user(SYSTEM, USER, "supervisor", "pkh", PASSWORD)
        services.close()
        listed = _file(workdir / f"cases-{rows}.csv", rows)
        if not with_writer:
            return _import(settings, listed, workdir)
        with Gunicorn(settings, workers=1, projector=True) as server:
            writer = _Writer(server.url, token(server.url, USER, PASSWORD))
            writer.start()
            time.sleep(WRITER_ALONE)
            writer.phase = "during_import"
            result = _import(settings, listed, workdir)
            writer.stopping.set()
            writer.join()
        return {**result, "concurrent_writes": writer.summary()}
    finally:
        drop(settings)


def main() -> None:
    if len(sys.argv) > 1:  # one run, in a process of its own
        with tempfile.TemporaryDirectory(prefix="pilar-import-bench-") as tmp:
            print(json.dumps(_one(int(sys.argv[1]), Path(tmp), sys.argv[2:] == ["writer"])))
        return
    results = []
    for rows, mode in ((max(ROWS // 10, 1), []), (ROWS, []), (WRITER_ROWS, ["writer"])):
        measured = subprocess.run([sys.executable, "-m", "bench.import_bench", str(rows), *mode], cwd=PROJECT_ROOT,
                                  capture_output=True, text=True, check=True)
        result = json.loads(measured.stdout.strip().splitlines()[-1])
        print(f"{result['rows']:>7} rows ({result['file_mib']} MiB){' with a concurrent writer' if mode else ''}: "
              f"{result['seconds']} s, {result['rows_per_second']} rows/s ({result['cpu_ms_per_row']} ms CPU and "
              f"{result['commits_per_row']} commits a row, load average {result['load_average']}), longest write "
              f"transaction {result['longest_write_transaction_ms']} ms, "
              f"peak RSS {result['peak_rss_mib']} MiB", flush=True)
        if mode:
            print(f"        concurrent registrations: {result['concurrent_writes']}", flush=True)
        results.append(result)
    RESULTS.write_text(json.dumps({"store": STORE, "kind": "cases", "runs": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
