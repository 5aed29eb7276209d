"""What the reliability tests share: knobs from the environment, writer processes, process
lookups for fault injection, and the checks of the store against what the clients recorded."""

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from uuid import UUID

import psycopg
import requests

from pilar.cases.access import Actor
from pilar.cases.case import Case
from pilar.cases.idempotency import IdempotencyRecord
from eventsourcing.application import AggregateNotFoundError
from pilar.bootstrap import bootstrap
from pilar.settings import PROJECT_ROOT, Settings
from pilar.audit.seals import verify
from pilar.audit.verification import Verification
from pilar.projections.maintenance import check
from pilar.projections.queries import WorkloadQueries
from pilar.store.connection import Readers
from testkit import factories
from testkit.fixtures import POSTGRES_URL
from testkit.servers import pilar_env, wait_until


def knob(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


SECONDS = knob("RELIABILITY_SECONDS", 3)          # how long the writers write, per test and store
CLIENTS = int(knob("RELIABILITY_CLIENTS", 4))      # writer processes
CASES = int(knob("RELIABILITY_CASES", 3))          # cases they race on
WORKERS = int(knob("RELIABILITY_WORKERS", 3))      # gunicorn workers
EXAMPLES = int(knob("RELIABILITY_EXAMPLES", 1))    # hypothesis examples per operation, role and mode
FUZZ_EXAMPLES = int(knob("RELIABILITY_FUZZ_EXAMPLES", 40))  # per write endpoint
PILAR = str(Path(sys.executable).parent / "pilar")


# ----------------------------------------------------------------------------- set-up
def open_cases(service, actor: Actor, count: int, *, assessed: bool = True) -> list[str]:
    ids = []
    for n in range(count):
        body = factories.person(birth_date=f"19{40 + n % 50}-0{1 + n % 9}-{1 + n % 28:02d}")
        person = service.register_beneficiary(
            actor, nik=body["nik"], name=body["name"], birth_date=date.fromisoformat(body["birth_date"]),
            sex=body["sex"], desa_code=body["desa_code"])
        case = service.open_case(actor, beneficiary_id=person.id, pillar="pkh",
                                 referral={"source": "musdes", "referred_by": "Kades", "reason": "reliability"},
                                 categories=["fakir_miskin"], priority="normal")
        if assessed:  # aid needs a prior assessment
            service.assess_case(actor, case.id, needs=["basic_needs"], risk="high", summary="reliability")
        ids.append(str(case.id))
    return ids


def seed_records(service, staff) -> dict[str, str]:
    """A person, and a case with an assessment, aid, a follow-up and a pending referral: real
    ids for the path parameters, so generated requests reach past the 404s."""
    wati = staff["wati"]
    (case_id,) = open_cases(service, wati, 1)
    case = service.get_case(wati, UUID(case_id))
    service.give_aid(wati, case.id, component="basic_needs", item="paket", quantity=1, unit="paket",
                     value_idr=1000, funding_source="apbd", given_on=date.fromordinal(date.today().toordinal() - 1))
    follow_up = service.schedule_follow_up(wati, case.id, due_on=date.fromordinal(date.today().toordinal() + 9),
                                           purpose="visit")
    referral = service.send_referral(wati, case.id, to_pillar="tksk", reason="needs tksk")
    return {"case_id": case_id, "beneficiary_id": str(case.beneficiary_id), "pillar": "pkh",
            "follow_up_id": follow_up.extra["follow_up_id"], "referral_id": referral.extra["referral_id"]}


# ----------------------------------------------------------------------------- writers
class Writers:
    """CLIENTS writer processes (reliability.client) running for `seconds`."""

    def __init__(self, url: str, token: str, case_ids: list[str], seconds: float, workdir: Path,
                 clients: int = CLIENTS, prefix: str = "c", stop_file: Path | None = None):
        self.workdir = workdir
        self.processes: list[tuple[subprocess.Popen, Path]] = []
        self.seconds = seconds
        for n in range(clients):
            config = {"url": url, "token": token, "case_ids": case_ids, "seconds": seconds, "seed": n,
                      "name": f"{prefix}{n}", "stop_file": str(stop_file) if stop_file else None}
            config_path, out_path = workdir / f"{prefix}{n}.json", workdir / f"{prefix}{n}.out.json"
            config_path.write_text(json.dumps(config))
            process = subprocess.Popen([sys.executable, "-m", "reliability.client", str(config_path), str(out_path)],
                                       cwd=PROJECT_ROOT)
            self.processes.append((process, out_path))
        self.started = time.monotonic()

    def results(self) -> list[dict]:
        out = []
        for process, path in self.processes:
            # a client retries an unanswered write for at most client.RETRY_SECONDS after its deadline
            process.wait(timeout=self.seconds + 180)
            assert process.returncode == 0, f"writer {path.name} exited with {process.returncode}"
            out.append(json.loads(path.read_text()))
        return out

    def kill(self) -> None:
        for process, _ in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()


# ----------------------------------------------------------------------------- processes
def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            pass
    return sorted(set(found))


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def projector_pids(master: int) -> list[int]:
    return [p for p in children(master) if "pilar.cli" in cmdline(p) and " project" in cmdline(p)]


def worker_pids(master: int) -> list[int]:
    return [p for p in children(master) if "gunicorn" in cmdline(p)]


def wait_for(predicate, seconds: float, what: str, step: float = 0.1):
    return wait_until(predicate, seconds, what, step)


def probe_write(url: str, token: str, case_id: str, key: str, seconds: float = 60.0) -> float:
    """Seconds until a write succeeds again (the server recovered without a hand restart)."""
    start = time.monotonic()
    body = {"due_on": date.fromordinal(date.today().toordinal() + 30).isoformat(), "purpose": key}

    def ok():
        try:
            r = requests.post(f"{url}/api/v1/cases/{case_id}/follow-ups", json=body, timeout=10,
                              headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key})
            return r.status_code == 200
        except requests.RequestException:
            return False

    wait_for(ok, seconds, f"a write succeeds again at {url}", step=0.2)
    return time.monotonic() - start


def postgres_ready() -> bool:
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def restart_postgres() -> float:
    """Restart the PostgreSQL cluster (fast shutdown: every connection is cut); return the
    seconds until it accepts connections again. Waits at most 120 s, then fails."""
    version = sorted(os.listdir("/etc/postgresql"), key=lambda v: [int(x) for x in v.split(".") if x.isdigit()])[-1]
    start = time.monotonic()
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart", "-m", "fast"],
                   check=True, timeout=120, capture_output=True)
    wait_for(postgres_ready, 120, "PostgreSQL accepts connections after its restart", step=0.2)
    return time.monotonic() - start


# ----------------------------------------------------------------------------- checks
@dataclass
class Verdict:
    sent: int = 0
    writes: int = 0
    acked: int = 0
    unknown: int = 0
    unknown_stored: int = 0
    rejected: int = 0
    retried_acks: int = 0
    replayed_acks: int = 0
    connection_errors: int = 0
    events_checked: int = 0
    statuses: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)


def check_writes(settings: Settings, results: list[dict], case_ids: list[str], *,
                 extra_keys: set[str] = frozenset(), allow_unanswered: bool, username: str = "wati") -> Verdict:
    """Compare what the clients recorded with the stored streams (read by a fresh application)."""
    v = Verdict()
    acked = [a for r in results for a in r["acked"]]
    unknown = {u["key"]: u for r in results for u in r["unknown"]}
    rejected = {x["key"]: x for r in results for x in r["rejected"]}
    for r in results:
        v.sent += r["sent"]
        v.writes += r["writes"]
        v.connection_errors += r["connection_errors"]
        v.statuses.update(r["statuses"])
        for u in r["unexpected"]:
            if not (u[2] == 409):
                v.failures.append(f"unexpected answer {u}")
    v.acked, v.unknown, v.rejected = len(acked), len(unknown), len(rejected)
    v.retried_acks = sum(1 for a in acked if a["attempts"] > 1)
    v.replayed_acks = sum(1 for a in acked if a["replayed"])
    if not allow_unanswered and (unknown or v.connection_errors):
        v.failures.append(f"{len(unknown)} writes and {v.connection_errors} requests went unanswered without a fault")
    if v.statuses.get("500"):
        v.failures.append(f"{v.statuses['500']} answers were 500")

    services = bootstrap(settings)

    app = services.cases
    try:
        stored: dict[str, list[tuple]] = {}  # key -> [(case_id, version, follow_up_id)]
        lengths: dict[str, int] = {}
        for case_id in case_ids:
            events, after = [], 0
            for _ in range(10_000):  # bounded paging
                page = app.streams.select_stream(UUID(case_id), after_version=after, limit=1000)
                if not page:
                    break
                events += page
                after = page[-1].originator_version
            v.events_checked += len(events)
            lengths[case_id] = len(events)
            versions = [e.originator_version for e in events]
            if versions != list(range(1, len(versions) + 1)):
                v.failures.append(f"case {case_id}: versions have gaps or repeats")
            positions = [e.id for e in events]
            if positions != sorted(positions):
                v.failures.append(f"case {case_id}: positions do not follow versions")
            for notification in events:
                event = app.mapper.to_domain_event(notification)
                if isinstance(event, Case.FollowUpScheduled):
                    stored.setdefault(event.purpose, []).append((case_id, event.originator_version, event.follow_up_id))
                elif isinstance(event, Case.AidGiven):
                    stored.setdefault(event.item, []).append((case_id, event.originator_version, None))
        # The state a reader sees agrees with the stream.
        for case_id in case_ids:
            case = app.repository.get(UUID(case_id))
            if case.version != lengths[case_id]:
                v.failures.append(f"case {case_id}: state at version {case.version}, stream has {lengths[case_id]}")
        # A write and the record of its key are saved together or not at all: nothing half-exists.
        sent_keys = {a["key"] for a in acked} | set(unknown) | set(rejected)
        for key in sorted(sent_keys):
            try:
                record = app.repository.get(IdempotencyRecord.id_for(username, key))
            except AggregateNotFoundError:
                record = None
            places = stored.get(key, [])
            if record is None and places:
                v.failures.append(f"write {key} is stored without the record of its Idempotency-Key")
            elif record is not None and not places:
                v.failures.append(f"the key of {key} is recorded but its write is not stored")
            elif record is not None and (str(record.aggregate_id), record.aggregate_version) != places[0][:2]:
                v.failures.append(f"the key of {key} names {record.aggregate_id} v{record.aggregate_version}, "
                                  f"the write is at {places[0][:2]}")
            follow_up_ids = {f["id"] for f in case.follow_ups}
            for key, places in stored.items():
                for cid, _version, fid in places:
                    if cid == case_id and fid is not None and fid not in follow_up_ids:
                        v.failures.append(f"case {case_id}: follow-up {fid} stored but missing from the state")
    finally:
        services.close()

    for key, places in stored.items():
        if key in extra_keys:
            continue
        if len(places) > 1:
            v.failures.append(f"request {key} was applied {len(places)} times: {places}")
        if key not in unknown and key not in {a['key'] for a in acked}:
            v.failures.append(f"stored write {key} {places} was never acknowledged nor left unanswered")
        if key in rejected:
            v.failures.append(f"rejected request {key} ({rejected[key]['status']}) was stored")
    seen_versions = set()
    for a in acked:
        place = stored.get(a["key"])
        expected = (a["case_id"], a["version"], a["follow_up_id"])
        if not place:
            v.failures.append(f"acknowledged write {a['key']} {expected} is not stored")
        elif place[0] != expected:
            v.failures.append(f"acknowledged write {a['key']} answered {expected} but is stored as {place[0]}")
        if (a["case_id"], a["version"]) in seen_versions:
            v.failures.append(f"two acknowledged writes claim {a['case_id']} version {a['version']}")
        seen_versions.add((a["case_id"], a["version"]))
    v.unknown_stored = sum(1 for key in unknown if key in stored)
    return v


def view_position(settings: Settings) -> int:
    readers = Readers(settings.store)
    try:
        return WorkloadQueries(readers).position()
    finally:
        readers.close()


def head(settings: Settings) -> int:
    services = bootstrap(settings)
    app = services.cases
    try:
        return app.recorder.max_notification_id() or 0
    finally:
        services.close()


def verification(settings: Settings) -> Verification:
    """What `pilar audit verify` finds, asked in this process: to wait for the seals, where a
    command's start would cost more than the check."""
    services = bootstrap(settings)
    try:
        with services.readers.connection() as conn:
            return verify(services.cases.recorder, conn, settings.audit_key(), heads=settings.heads_path)
    finally:
        services.close()


def views_and_seals(settings: Settings, seconds: float = 120) -> tuple[int, list]:
    """Wait until the projector (still running beside gunicorn) caught up; then the views
    must equal a rebuild and `pilar audit verify` must pass with nothing left unsealed."""
    target = head(settings)
    wait_for(lambda: view_position(settings) >= target, seconds, f"the views reach position {target}", step=0.2)
    wait_for(lambda: (found := verification(settings)).unsealed == 0 or not found.ok, seconds,
             "every event is sealed", step=0.2)
    run = subprocess.run([PILAR, "audit", "verify"], env=pilar_env(settings), capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, f"pilar audit verify failed: {run.stdout} {run.stderr}"
    assert "ok: the history is intact" in run.stdout and " 0 not yet sealed" in run.stdout, run.stdout
    return check(settings)


def stop_gracefully(process: subprocess.Popen, seconds: float = 30) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
