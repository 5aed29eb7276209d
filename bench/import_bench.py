"""`make import-bench`: how fast `pilar import` brings a list in, and whether its memory stays flat
(issue 17: 50,000 rows on SQLite in under 5 minutes).

Generates a `cases` file of BENCH_IMPORT_ROWS rows (default 50,000; made-up people from
testkit/factories.py, never real ones) and one a tenth as long, on a fresh SQLite store per run,
and imports each with `pilar import --as <a supervisor>` as an operator would (a child process:
every row registers a person and opens their case, each a write through the application service).
Prints and writes to bench/import_bench.json: rows, seconds, rows/s and the child's peak RSS; peaks
close together for both lengths mean memory does not grow with the file."""

import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pilar.api.bulk.templates import KINDS
from bench.stores import drop, fresh_settings
from pilar.bootstrap import bootstrap
from pilar.cases.access import SYSTEM
from pilar.settings import PROJECT_ROOT
from testkit.factories import case_rows
from testkit.servers import pilar_env

ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "50000"))
RESULTS = PROJECT_ROOT / "bench" / "import_bench.json"


def _file(path: Path, rows: int) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, KINDS["cases"].header)
        writer.writeheader()
        for start in range(0, rows, 5000):  # generated in slices: the generator's memory is not the importer's
            writer.writerows(case_rows(min(5000, rows - start), first_serial=start + 1)[0])
    return path


def _one(rows: int, workdir: Path) -> dict:
    settings = fresh_settings("sqlite", workdir)
    try:
        services = bootstrap(settings)
        services.cases.add_user(SYSTEM, "bench.koordinator", "supervisor", "pkh", "bench-import-password")
        services.close()
        listed = _file(workdir / f"cases-{rows}.csv", rows)
        started = time.monotonic()
        done = subprocess.run([str(Path(sys.executable).parent / "pilar"), "import", str(listed), "--kind", "cases",
                               "--as", "bench.koordinator"], env=pilar_env(settings), capture_output=True, text=True)
        seconds = time.monotonic() - started
        if done.returncode != 0:
            raise SystemExit(f"the import failed:\n{done.stderr[-2000:]}")
        counts = json.loads(done.stdout)["counts"]
        # ru_maxrss of children is the largest child so far: each length runs in its own bench process.
        used = resource.getrusage(resource.RUSAGE_CHILDREN)
        peak_mib = used.ru_maxrss / 1024
        # CPU apart from the wall clock: on a shared machine the wall clock mostly measures the others.
        cpu_ms = (used.ru_utime + used.ru_stime) * 1000 / rows
        return {"rows": rows, "imported": counts["imported"], "seconds": round(seconds, 1),
                "rows_per_second": round(rows / seconds, 1), "cpu_ms_per_row": round(cpu_ms, 2),
                "load_average": round(os.getloadavg()[0], 1), "peak_rss_mib": round(peak_mib, 1),
                "file_mib": round(listed.stat().st_size / 2**20, 1)}
    finally:
        drop(settings)


def main() -> None:
    if len(sys.argv) > 1:  # one length, in a process of its own (ru_maxrss of children is per process)
        with tempfile.TemporaryDirectory(prefix="pilar-import-bench-") as tmp:
            print(json.dumps(_one(int(sys.argv[1]), Path(tmp))))
        return
    results = []
    for rows in (max(ROWS // 10, 1), ROWS):
        measured = subprocess.run([sys.executable, "-m", "bench.import_bench", str(rows)], cwd=PROJECT_ROOT,
                                  capture_output=True, text=True, check=True)
        result = json.loads(measured.stdout.strip().splitlines()[-1])
        print(f"{result['rows']:>7} rows ({result['file_mib']} MiB): {result['seconds']} s, "
              f"{result['rows_per_second']} rows/s ({result.get('cpu_ms_per_row')} ms CPU a row, load average "
              f"{result.get('load_average')}), peak RSS {result['peak_rss_mib']} MiB", flush=True)
        results.append(result)
    RESULTS.write_text(json.dumps({"store": "sqlite", "kind": "cases", "runs": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
