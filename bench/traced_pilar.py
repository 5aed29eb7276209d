"""`python -m bench.traced_pilar OUT ARGS...`: runs `pilar ARGS...` with its SQLite writes traced, and
writes to the file OUT (JSON) how many commits it made (a COMMIT, or a write outside a transaction,
which commits on its own) and how long its longest write transaction held the store's write lock
(from BEGIN IMMEDIATE or its first write to its COMMIT; the commit's own sync comes on top). On
SQLite a commit is a sync of the write-ahead log, what an import waits on; the write lock is what
a concurrent writer waits on. `make import-bench` runs `pilar import` through it.
BENCH_IMPORT_BATCH, if set, overrides the importer's rows per batch (to compare batch lengths)."""

import json
import os
import sqlite3
import sys
import time
from pathlib import Path

WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
traced = {"commits": 0, "longest_write_transaction_ms": 0.0}
_connect = sqlite3.connect


def _traced(*args, **kwargs) -> sqlite3.Connection:
    conn = _connect(*args, **kwargs)
    locked_since: list[float] = []

    def trace(statement: str) -> None:
        head = statement.lstrip()[:15].upper()
        if head.startswith(("COMMIT", "ROLLBACK")):
            if locked_since:
                held = (time.perf_counter() - locked_since.pop()) * 1000
                traced["longest_write_transaction_ms"] = max(traced["longest_write_transaction_ms"], held)
            traced["commits"] += head.startswith("COMMIT")
        elif head.startswith("BEGIN IMMEDIATE") or (head.startswith(WRITES) and conn.in_transaction
                                                    and not locked_since):
            locked_since.append(time.perf_counter())
        elif head.startswith(WRITES) and not conn.in_transaction:
            traced["commits"] += 1

    conn.set_trace_callback(trace)
    return conn


def main() -> None:
    out = Path(sys.argv[1])
    sqlite3.connect = _traced
    if batch := os.environ.get("BENCH_IMPORT_BATCH"):
        from pilar.api.bulk import importer

        importer.BATCH = int(batch)
    from pilar.cli import main as pilar

    try:
        pilar(args=sys.argv[2:], prog_name="pilar")
    finally:
        out.write_text(json.dumps(traced))


if __name__ == "__main__":
    main()
