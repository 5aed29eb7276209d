"""Figures gathered by the reliability tests; the conftest writes them to docs/reliability.md
at the end of a run when RELIABILITY_REPORT names the file (as `make reliability` does)."""

import os
import platform
from datetime import datetime, timezone

RECORDS: list[dict] = []


def record(test: str, store: str, **figures) -> None:
    RECORDS.append({"test": test, "store": store, **figures})


def total(name: str) -> int:
    return sum(int(r.get(name, 0) or 0) for r in RECORDS)


def render(*, passed: int, failed: int, errors: int, seconds: float, knobs: dict[str, str]) -> str:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Reliability",
        "",
        "Written by the reliability suite itself at the end of its last full run (`make reliability`);",
        "do not edit by hand. The suite lives in `reliability/`; `make test` runs the same tests with",
        "short durations (`RELIABILITY_SECONDS=3`).",
        "",
        f"Run of {now} on {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}; {seconds:.0f} s in all.",
        "Settings: " + ", ".join(f"`{k}={v}`" for k, v in sorted(knobs.items())) + ".",
        "",
        "## Summary",
        "",
        "| figure | value |",
        "|---|---:|",
        f"| HTTP requests sent (writers, probes, schemathesis, fuzz) | {total('requests')} |",
        f"| writes acknowledged | {total('acked')} |",
        f"| writes never answered (connection cut by a fault; retried with the same key) | {total('unknown')} |",
        f"| faults injected | {total('faults')} |",
        f"| events checked against the clients' records | {total('events_checked')} |",
        f"| tests passed | {passed} |",
        f"| **failures** | **{failed + errors}** |",
        "",
        "## What each test did",
        "",
        "| test | store | seconds | requests | acked | unanswered (stored) | faults | events checked | notes |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in RECORDS:
        unknown = f"{r.get('unknown', 0)} ({r.get('unknown_stored', 0)})" if "unknown" in r else ""
        lines.append(
            f"| {r['test']} | {r['store']} | {r.get('seconds', 0):.0f} | {r.get('requests', 0)} | "
            f"{r.get('acked', '')} | {unknown} | {r.get('faults', 0)} | {r.get('events_checked', '')} | "
            f"{r.get('notes', '')} |")
    lines += [
        "",
        "## What is checked",
        "",
        "- **Racing writers**: client processes write follow-ups and aid on a few cases through real",
        "  gunicorn for a fixed time, each write with its own `Idempotency-Key` written into the event.",
        "  Every acknowledged write is stored at the version and with the follow-up id it was answered",
        "  with; each case's versions run 1..N without gaps; no answer is a 500.",
        "- **Faults under load**: while the clients write, a gunicorn worker is killed with SIGKILL,",
        "  the projection process is killed with SIGKILL (gunicorn's companion restarts it), and on",
        "  PostgreSQL the database is restarted (fast shutdown, every connection cut). A request whose",
        "  answer was lost is retried with the same key. Afterwards: every acknowledged write exists",
        "  exactly once; every stored write was sent by a client and either acknowledged or left",
        "  unanswered by a fault (never one refused with a 4xx); the views equal a rebuild",
        "  (`projections.maintenance.check`); `pilar audit verify` passes with every event sealed; and",
        "  a write succeeds again after each fault without anyone restarting anything (time to",
        "  recover in the notes).",
        "- **Hostile input**: schemathesis generates valid and invalid requests for every operation of",
        "  `/api/v1/openapi.json` with a token of each role (worker, supervisor, auditor, admin) and",
        "  checks no 5xx, documented status codes, content types, headers and response schemas. A",
        "  hypothesis fuzz sends random JSON (wrong types, huge numbers, odd strings, missing and",
        "  extra fields, malformed bytes) to every write endpoint: never a 5xx, and nothing appended",
        "  to the store on any 4xx.",
        "",
    ]
    return "\n".join(lines)
