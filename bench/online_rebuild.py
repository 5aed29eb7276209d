"""How long writers and readers wait while `pilar projections rebuild` and `check` run on a large
store, with the projection process running (docs/performance.md; `make online-rebuild`).

The store is made quickly: a few thousand events through the application service, then their
case streams copied under new ids (each copy's MAC made again under the store's audit key) in
large transactions, up to --events (testkit/bulk.py). `pilar project` runs as a process of its
own, as in production. Writers append through the application service (follow-ups, a new case
every CASE_WRITES) and readers list cases and read a pillar's workload from the views, the whole
time; each call's duration is kept with the moment it began (a write's also the part spent
inserting its events). The commands run one after the other, each between two baselines (the
same load, no command), so that a machine whose load drifts is seen drifting.

What a slow call waited for: a thread of this process sleeps 5 ms over and over and keeps each
oversleep (`stalled_ms`: the process could not run, no core was free); on PostgreSQL every
backend's wait is sampled (bench/pg_waits.py: a lock and whose, the WAL, the client, or "CPU").

    python -m bench.online_rebuild --events 1000000 --store both [--pause 0]
"""

import json
import os
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
from bench.pg_waits import WaitSampler
from pilar.bootstrap import bootstrap, init_store
from pilar.cases.access import Actor
from pilar.projections.maintenance import rebuild
from pilar.projections.queries import CaseFilter
from pilar.store.connection import ViewDB
from testkit import factories
from testkit.bulk import copy_case_streams
from testkit.fixtures import drop_store, new_store_url, settings_for
from testkit.servers import pilar_env

PILAR = str(Path(sys.executable).with_name("pilar"))

BASE_EVENTS = 3000
SLOWEST = 5  # calls reported with what their backends waited for
CASE_WRITES = 100


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


class Stalls:
    """How long this process could not run when it wanted to (no core free, or another of its
    threads holding the interpreter): a thread that sleeps 5 ms over and over and keeps each
    oversleep. A slow call that overlaps a stall waited for the machine, not for a lock."""

    NAP = 0.005

    def __init__(self):
        self.seen: list[tuple[float, float]] = []  # (when the nap began, seconds overslept)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="stalls", daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            began = time.monotonic()
            time.sleep(self.NAP)
            late = time.monotonic() - began - self.NAP
            if late > 0.005:
                self.seen.append((began, late))

    def within(self, start: float, end: float) -> float:
        return sum(late for began, late in self.seen if began < end and began + self.NAP + late > start)


class Load:
    """Writer and reader threads through the services; every call's (began, seconds, kind, inserting
    seconds: a write's time in the recorder's insert, where it takes the events table's lock)."""

    def __init__(self, settings, writers: int, readers: int):
        self.services = bootstrap(settings)
        self.stop = threading.Event()
        self.calls: list[tuple[float, float, str, float]] = []
        self.failures: list[str] = []
        self.inserting = threading.local()
        app = self.services.cases
        insert = app.recorder.insert_events

        def timed_insert(*args, **kwargs):
            began = time.monotonic()
            try:
                return insert(*args, **kwargs)
            finally:
                self.inserting.seconds = getattr(self.inserting, "seconds", 0.0) + time.monotonic() - began

        app.recorder.insert_events = timed_insert
        staff = ensure_staff(app)
        self.actor: Actor = staff["pkh"]
        self.threads = [threading.Thread(target=self._write, args=(i,), daemon=True) for i in range(writers)]
        self.threads += [threading.Thread(target=self._read, daemon=True) for _ in range(readers)]
        self.stalls = Stalls()

    def _timed(self, kind: str, call) -> None:
        self.inserting.seconds = 0.0
        began = time.monotonic()
        try:
            call()
        except Exception as error:  # noqa: BLE001 - counted and shown: a failed call is a result
            self.failures.append(f"{kind}: {type(error).__name__}: {error}")
        self.calls.append((began, time.monotonic() - began, kind, self.inserting.seconds))

    def _write(self, n: int) -> None:
        # A fresh case every CASE_WRITES writes: one case growing for an hour would make later
        # phases slower than earlier ones for a reason of its own.
        app = self.services.cases
        written = 0
        while not self.stop.is_set():
            if written % CASE_WRITES == 0:
                case = self._new_case(n, written // CASE_WRITES % 9999 + 1)
                if case is None:
                    return
            due = date.today() + timedelta(days=7)
            self._timed("write", lambda: app.schedule_follow_up(self.actor, case, due_on=due, purpose="kunjungan"))
            written += 1
            time.sleep(0.02)

    def _new_case(self, n: int, serial: int):
        app = self.services.cases
        born = date(1950 + n, 1, 1)
        try:
            person = app.register_beneficiary(self.actor, nik=factories.nik_for(born, "P", serial=serial),
                                              name=f"Bench {n}", birth_date=born, sex="P", desa_code="35.01.04.1001").id
            return app.open_case(self.actor, beneficiary_id=person, pillar="pkh", priority="normal",
                                 referral={"source": "musdes", "referred_by": "Kades", "reason": "x"},
                                 categories=["fakir_miskin"]).id
        except Exception as error:  # noqa: BLE001 - the writer stops; said in the figures
            self.failures.append(f"writer {n} stopped: {type(error).__name__}: {error}")
            return None

    def _read(self) -> None:
        views = self.services.views
        while not self.stop.is_set():
            self._timed("read", lambda: views.cases(self.actor, CaseFilter(pillars=("pkh",)), 1, 20))
            self._timed("read", lambda: views.detail(self.actor, "pkh"))
            time.sleep(0.01)

    def start(self) -> None:
        self.stalls.thread.start()
        for thread in self.threads:
            thread.start()

    def close(self) -> None:
        self.stop.set()
        self.stalls.stop.set()
        for thread in self.threads:
            thread.join(30)
        self.services.close()

    def overlapping(self, start: float, end: float, kind: str) -> list[tuple[float, float, str, float]]:
        return [call for call in self.calls if call[2] == kind and call[0] < end and call[0] + call[1] > start]

    def between(self, start: float, end: float, kind: str) -> list[float]:
        return [call[1] for call in self.overlapping(start, end, kind)]


def _summary(seconds: list[float]) -> dict:
    if not seconds:
        return {"calls": 0}
    ordered = sorted(seconds)
    return {"calls": len(ordered), "p50_ms": round(1000 * statistics.median(ordered), 1),
            "p99_ms": round(1000 * ordered[int(0.99 * (len(ordered) - 1))], 1), "max_ms": round(1000 * ordered[-1], 1)}


def measure(settings, command: str, load: Load, sampler: WaitSampler | None, pause: float | None) -> dict:
    """`pilar projections COMMAND` in a process of its own, as an operator runs it."""
    began = time.monotonic()
    done = subprocess.run([PILAR, "projections", command, *(["--pause", str(pause)] if pause is not None else [])],
                          capture_output=True, text=True, env=pilar_env(settings) | {"PGAPPNAME": "pilar-maintenance"})
    ended = time.monotonic()
    said = done.stdout if done.returncode == 0 else done.stdout + done.stderr  # a failure keeps its error
    figures = {"seconds": round(ended - began, 1), "exit": done.returncode, "said": said.strip()[-400:]}
    figures.update(_figures(load, sampler, began, ended))
    held = re.search(r"held them for (\d+) ms", done.stdout)
    if held:
        figures["swap_ms"] = int(held.group(1))
    click.echo(f"{command}: {json.dumps(figures)}", err=True)
    return figures


def quiet(load: Load, sampler: WaitSampler | None, seconds: float) -> dict:
    """The same load with no maintenance running: what the commands' figures compare with."""
    began = time.monotonic()
    time.sleep(seconds)
    figures = {"seconds": seconds, **_figures(load, sampler, began, time.monotonic())}
    click.echo(f"baseline: {json.dumps(figures)}", err=True)
    return figures


def _figures(load: Load, sampler: WaitSampler | None, began: float, ended: float) -> dict:
    figures: dict = {}
    for kind in ("write", "read"):
        calls = load.overlapping(began, ended, kind)
        figures[kind] = _summary([call[1] for call in calls])
        figures[kind]["slowest"] = [
            {"ms": round(1000 * seconds), "inserting_ms": round(1000 * inserting),
             "stalled_ms": round(1000 * load.stalls.within(start, start + seconds)),
             **(sampler.during(start, start + seconds, "bench-load") if sampler is not None else {})}
            for start, seconds, _, inserting in sorted(calls, key=lambda call: -call[1])[:SLOWEST]]
    figures["stalled_ms_max"] = round(1000 * max((late for at, late in load.stalls.seen if began <= at <= ended),
                                                  default=0))
    figures["load_average"] = round(os.getloadavg()[0], 1)
    return figures


def run_store(kind: str, events: int, writers: int, readers: int, baseline: float, commands: list[str],
              pause: float | None, directory: Path) -> dict:
    url = new_store_url(kind, directory)
    settings = settings_for(url, directory)
    projector = None
    try:
        began = time.monotonic()
        head = build(settings, events)
        built = time.monotonic() - began
        click.echo(f"{kind}: {head} events made in {built:.0f} s; first rebuild (no load, no pause)", err=True)
        first = time.monotonic()
        rebuild(settings, pause_ratio=0)
        first = time.monotonic() - first
        projector = subprocess.Popen([PILAR, "project"], env=pilar_env(settings) | {"PGAPPNAME": "pilar-project"},
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_caught_up(settings)
        sampler = WaitSampler(settings.store.conninfo()).start() if kind == "postgres" else None
        load = Load(settings, writers, readers)
        load.start()
        try:
            time.sleep(2)
            figures = {"store": kind, "events": head, "made_seconds": round(built),
                       "first_rebuild_seconds": round(first, 1), "pause": pause,
                       "baseline": [quiet(load, sampler, baseline)]}
            for command in commands:  # each between two baselines, for a machine whose load drifts
                figures[command] = measure(settings, command, load, sampler, pause)
                figures["baseline"].append(quiet(load, sampler, baseline))
            figures["failures"] = load.failures[:5]
            figures["failed_calls"] = len(load.failures)
        finally:
            load.close()
            if sampler is not None:
                sampler.close()
        return figures
    finally:
        if projector is not None:
            projector.terminate()
            projector.wait(30)
        drop_store(url)


def _wait_caught_up(settings) -> None:
    conn = ViewDB(settings.store).connect()
    try:
        while True:
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
@click.option("--baseline", default=60.0, show_default=True,
              help="Seconds of load measured with no command running, before and after each command.")
@click.option("--commands", default="rebuild,check", show_default=True, help="Which commands to run, in order.")
@click.option("--pause", type=float, default=None, help="The commands' --pause (default: theirs).")
@click.option("--output", type=click.Path(dir_okay=False), default="bench/online_rebuild.json", show_default=True)
def main(events: int, store: str, writers: int, readers: int, baseline: float, commands: str, pause: float | None,
         output: str) -> None:
    os.environ["PGAPPNAME"] = "bench-load"  # this process's backends, as bench/pg_waits.py knows them
    results = []
    for kind in (["sqlite", "postgres"] if store == "both" else [store]):
        with tempfile.TemporaryDirectory() as directory:
            results.append(run_store(kind, events, writers, readers, baseline, commands.split(","), pause,
                                     Path(directory)))
    path = Path(output)
    previous = json.loads(path.read_text()) if path.exists() else []
    made = {(n["store"], n["events"], n["pause"]) for n in results}
    kept = [r for r in previous if (r["store"], r["events"], r.get("pause")) not in made]
    path.write_text(json.dumps(kept + results, indent=2) + "\n")
    click.echo(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
