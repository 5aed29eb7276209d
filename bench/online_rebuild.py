"""How long writers and readers wait while `pilar projections rebuild` and `check` run on a large
store, with the projection process running (docs/performance.md; `make online-rebuild`).

The store is made quickly: a few thousand events through the application service, then their
case streams copied under new ids (each copy's MAC made again under the store's audit key) by
the recorder in large transactions, up to --events. Writers append through the application
service (a follow-up on their own case) and readers list cases and read a pillar's workload
from the views, the whole time; each call's duration is kept with the moment it began.

    python -m bench.online_rebuild --events 1000000 --store sqlite
"""

import json
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import click

from bench.generate import ensure_staff, generate
from pilar.bootstrap import bootstrap, init_store
from pilar.cases.access import Actor
from pilar.projections.maintenance import rebuild
from pilar.projections.queries import CaseFilter
from pilar.projections.runner import ProjectionProcess
from testkit.bulk import copy_case_streams
from testkit.fixtures import drop_store, new_store_url, settings_for
from testkit.servers import pilar_env

PILAR = str(Path(sys.executable).with_name("pilar"))

BASE_EVENTS = 3000


def build(settings, events: int) -> int:
    """A store of about `events` events; returns its head."""
    init_store(settings)
    services = bootstrap(settings)
    try:
        generate(services.cases, min(BASE_EVENTS, events), show_progress=False)
        return copy_case_streams(services.cases, settings.audit_key(), events,
                                 said=lambda head: click.echo(f"  store: {head} events", err=True))
    finally:
        services.close()


class Load:
    """Writer and reader threads through the services; every call's (began, seconds, kind)."""

    def __init__(self, settings, writers: int, readers: int):
        self.services = bootstrap(settings)
        self.stop = threading.Event()
        self.calls: list[tuple[float, float, str]] = []
        self.failures: list[str] = []
        app = self.services.cases
        staff = ensure_staff(app)
        self.actor: Actor = staff["pkh"]
        self.threads = [threading.Thread(target=self._write, args=(i,), daemon=True) for i in range(writers)]
        self.threads += [threading.Thread(target=self._read, daemon=True) for _ in range(readers)]

    def _timed(self, kind: str, call) -> None:
        began = time.monotonic()
        try:
            call()
        except Exception as error:  # noqa: BLE001 - counted and shown: a failed call is a result
            self.failures.append(f"{kind}: {type(error).__name__}: {error}")
        self.calls.append((began, time.monotonic() - began, kind))

    def _write(self, n: int) -> None:
        app = self.services.cases
        person = app.register_beneficiary(self.actor, nik=f"350101{41 + n:02d}0170{9000 + n:04d}", name=f"Bench {n}",
                                          birth_date=date(1970, 1, 1 + n), sex="P", desa_code="35.01.04.1001").id
        case = app.open_case(self.actor, beneficiary_id=person, pillar="pkh", priority="normal",
                             referral={"source": "musdes", "referred_by": "Kades", "reason": "x"},
                             categories=["fakir_miskin"]).id
        while not self.stop.is_set():
            self._timed("write", lambda: app.schedule_follow_up(self.actor, case, due_on=date.today() + timedelta(days=7),
                                                                purpose="kunjungan"))
            time.sleep(0.02)

    def _read(self) -> None:
        views = self.services.views
        while not self.stop.is_set():
            self._timed("read", lambda: views.cases(self.actor, CaseFilter(pillars=("pkh",)), 1, 20))
            self._timed("read", lambda: views.detail(self.actor, "pkh"))
            time.sleep(0.01)

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(30)
        self.services.close()

    def between(self, start: float, end: float, kind: str) -> list[float]:
        return [seconds for began, seconds, k in self.calls if k == kind and began < end and began + seconds > start]


def _summary(seconds: list[float]) -> dict:
    if not seconds:
        return {"calls": 0}
    ordered = sorted(seconds)
    return {"calls": len(ordered), "p50_ms": round(1000 * statistics.median(ordered), 1),
            "p99_ms": round(1000 * ordered[int(0.99 * (len(ordered) - 1))], 1), "max_ms": round(1000 * ordered[-1], 1)}


def measure(settings, command: str, load: Load) -> dict:
    """`pilar projections COMMAND` in a process of its own, as an operator runs it."""
    began = time.monotonic()
    done = subprocess.run([PILAR, "projections", command], capture_output=True, text=True, env=pilar_env(settings))
    ended = time.monotonic()
    figures = {"seconds": round(ended - began, 1), "exit": done.returncode, "said": done.stdout.strip()[-200:]}
    for kind in ("write", "read"):
        figures[kind] = _summary(load.between(began, ended, kind))
    held = re.search(r"held them for (\d+) ms", done.stdout)
    if held:
        figures["swap_ms"] = int(held.group(1))
    click.echo(f"{command}: {json.dumps(figures)}", err=True)
    return figures


def run_store(kind: str, events: int, writers: int, readers: int, directory: Path) -> dict:
    url = new_store_url(kind, directory)
    settings = settings_for(url, directory)
    try:
        began = time.monotonic()
        head = build(settings, events)
        built = time.monotonic() - began
        click.echo(f"{kind}: {head} events made in {built:.0f} s; first rebuild (no load)", err=True)
        first = time.monotonic()
        rebuild(settings)
        first = time.monotonic() - first
        stop = threading.Event()
        process = ProjectionProcess(settings, stop=stop)
        projector = threading.Thread(target=process.run, daemon=True)
        projector.start()
        _wait_caught_up(settings, stop)
        load = Load(settings, writers, readers)
        load.start()
        try:
            time.sleep(5)
            quiet = {kind_: _summary(load.between(time.monotonic() - 4, time.monotonic(), kind_))
                     for kind_ in ("write", "read")}
            figures = {"store": kind, "events": head, "first_rebuild_seconds": round(first, 1), "baseline": quiet,
                       "rebuild": measure(settings, "rebuild", load), "check": measure(settings, "check", load)}
            figures["failures"] = load.failures[:5]
            figures["failed_calls"] = len(load.failures)
        finally:
            load.close()
            stop.set()
            projector.join(30)
        return figures
    finally:
        drop_store(url)


def _wait_caught_up(settings, stop) -> None:
    from pilar.store.connection import ViewDB

    conn = ViewDB(settings.store).connect()
    try:
        while not stop.is_set():
            sealed = conn.one("SELECT MAX(position) FROM audit_seals")[0] or 0
            head = conn.one("SELECT position FROM view_tracking WHERE name = 'workload'")[0]
            if sealed >= head:
                return
            time.sleep(1)
    finally:
        conn.close()


@click.command()
@click.option("--events", default=100_000, show_default=True, help="How many events the store holds.")
@click.option("--store", type=click.Choice(["sqlite", "postgres", "both"]), default="both", show_default=True)
@click.option("--writers", default=2, show_default=True)
@click.option("--readers", default=2, show_default=True)
@click.option("--output", type=click.Path(dir_okay=False), default="bench/online_rebuild.json", show_default=True)
def main(events: int, store: str, writers: int, readers: int, output: str) -> None:
    results = []
    for kind in (["sqlite", "postgres"] if store == "both" else [store]):
        with tempfile.TemporaryDirectory() as directory:
            results.append(run_store(kind, events, writers, readers, Path(directory)))
    path = Path(output)
    previous = json.loads(path.read_text()) if path.exists() else []
    kept = [r for r in previous if (r["store"], r["events"]) not in {(n["store"], n["events"]) for n in results}]
    path.write_text(json.dumps(kept + results, indent=2) + "\n")
    click.echo(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
