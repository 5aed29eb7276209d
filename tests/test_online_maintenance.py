"""`pilar projections rebuild` and `check` online: writers and readers go on while they replay,
the swapped-in views equal a fresh rebuild, a killed rebuild leaves the live views as they were,
they pause between pages as long as asked, and the long commands say how far they have got."""

import io
import os
import signal
import subprocess
import threading
import time
from datetime import date, timedelta

from pilar.cli_progress import Progress
from pilar.projections import pace
from pilar.projections.maintenance import check, check_with_damage, rebuild
from pilar.projections.queries import CaseFilter
from pilar.projections.runner import ProjectionProcess
from pilar.projections.scratch import GIVE_WAY, HOLD, Sizer
from pilar.store import sqlite as sqlite_store
from pilar.store.connection import ViewDB
from testkit import factories
from testkit.bulk import copy_case_streams
from testkit.servers import pilar_env
from tests.test_cli import PILAR

EVENTS = 8000


def _seed(service, actor, events: int, settings) -> int:
    for n in range(4):
        body = factories.person(birth_date=f"19{50 + n}-03-0{n + 1}")
        person = service.register_beneficiary(actor, nik=body["nik"], name=body["name"],
                                              birth_date=date.fromisoformat(body["birth_date"]), sex=body["sex"],
                                              desa_code="35.01.04.1001").id
        case = service.open_case(actor, beneficiary_id=person, pillar="pkh", priority="normal",
                                 referral={"source": "musdes", "referred_by": "Kades", "reason": "x"},
                                 categories=["fakir_miskin"]).id
        service.assess_case(actor, case, needs=["basic_needs"], risk="high", summary="s")
        service.give_aid(actor, case, component="basic_needs", item="paket sembako", quantity=2, unit="paket",
                         value_idr=300_000, funding_source="apbd", given_on=date.today())
    return copy_case_streams(service, settings.audit_key(), events, per_transaction=2000)


class Traffic:
    """Writers appending through the application service and readers listing cases, each call timed."""

    def __init__(self, service, views, actor, cases, readers: int = 1):
        self.stop = threading.Event()
        self.waits: list[float] = []
        self.errors: list[BaseException] = []
        self.writes = 0
        self.threads = [threading.Thread(target=self._write, args=(service, actor, case)) for case in cases]
        self.threads += [threading.Thread(target=self._read, args=(views, actor)) for _ in range(readers)]

    def _timed(self, call) -> None:
        began = time.monotonic()
        try:
            call()
        except BaseException as error:  # noqa: BLE001 - every failure is asserted on
            self.errors.append(error)
        self.waits.append(time.monotonic() - began)

    def _write(self, service, actor, case) -> None:
        while not self.stop.is_set():
            self._timed(lambda: service.schedule_follow_up(actor, case, due_on=date.today() + timedelta(days=3),
                                                           purpose="kunjungan"))
            self.writes += 1
            time.sleep(0.01)

    def _read(self, views, actor) -> None:
        while not self.stop.is_set():
            self._timed(lambda: views.cases(actor, CaseFilter(pillars=("pkh",)), 1, 20))
            time.sleep(0.01)

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(30)


def _projecting(settings):
    stop = threading.Event()
    process = ProjectionProcess(settings, stop=stop, poll_interval=0.1)
    thread = threading.Thread(target=process.run, daemon=True)
    thread.start()
    return stop, thread


def _wait_for_views(settings, head: int, seconds: float = 120) -> None:
    conn = ViewDB(settings.store).connect()
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            row = conn.one("SELECT position FROM view_tracking WHERE name = 'workload'")
            if row and int(row[0]) >= head:
                return
            time.sleep(0.2)
        raise AssertionError(f"the views did not reach position {head}")
    finally:
        conn.close()


def _leftovers(settings) -> list[str]:
    conn = ViewDB(settings.store).connect()
    try:
        if conn.kind == "sqlite":
            names = [r[0] for r in conn.all("SELECT name FROM sqlite_master WHERE type = 'table'")]
        else:
            names = [r[0] for r in conn.all("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")]
        return [n for n in names if n.startswith("view__")]
    finally:
        conn.close()


def test_rebuild_and_check_while_writers_write(settings, services, service, staff):
    wati = staff["wati"]
    _seed(service, wati, EVENTS, settings)
    cases = [service.open_case(wati, beneficiary_id=service.register_beneficiary(
        wati, nik=body["nik"], name=body["name"], birth_date=date.fromisoformat(body["birth_date"]), sex=body["sex"],
        desa_code="35.01.04.1001").id, pillar="pkh", priority="normal",
        referral={"source": "musdes", "referred_by": "Kades", "reason": "x"}, categories=["fakir_miskin"]).id
        for body in (factories.person(birth_date=f"196{n}-05-1{n}") for n in range(3))]
    stop, projector = _projecting(settings)
    try:
        _wait_for_views(settings, service.recorder.max_notification_id())
        with Traffic(service, services.views, wati, cases) as traffic:
            time.sleep(0.5)
            began = time.monotonic()
            timings: dict = {}
            position = rebuild(settings, page=200, timings=timings)
            replay = time.monotonic() - began
            writes_during = traffic.writes
            checked_at, differences, damaged = check_with_damage(settings)
        head = service.recorder.max_notification_id()
        _wait_for_views(settings, head)
    finally:
        stop.set()
        projector.join(30)
    assert traffic.errors == []
    assert writes_during > 10 and position >= EVENTS and checked_at >= position
    # No lock was held for the replay: the longest any write or read waited is a small part of it.
    assert max(traffic.waits) < replay / 3, (max(traffic.waits), replay)
    assert timings["swap_seconds"] < replay / 3
    assert (differences, damaged) == ([], [])
    # The views the writes went on into after the swap equal a fresh rebuild of every event.
    assert check(settings) == (head, [])
    assert _leftovers(settings) == []


def test_a_killed_rebuild_leaves_the_live_views_and_the_next_one_succeeds(settings, service, staff, catch_up):
    head = _seed(service, staff["wati"], 6000, settings)
    catch_up(batch_size=2000)
    env = {**pilar_env(settings), "PILAR_PROGRESS_SECONDS": "0"}
    started = subprocess.Popen([PILAR, "projections", "rebuild"], stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = started.stderr.readline()
        while line and "rebuild:" not in line:
            line = started.stderr.readline()
        assert "rebuild:" in line  # midway: it has written a page into its scratch tables
        os.kill(started.pid, signal.SIGKILL)
    finally:
        started.wait(30)
        started.stderr.close()
    assert _leftovers(settings) != []
    assert check(settings) == (head, [])  # the live views are whole, and check clears the leftovers first
    again = subprocess.run([PILAR, "projections", "rebuild"], capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"views rebuilt up to position {head}" in again.stdout
    assert check(settings) == (head, []) and _leftovers(settings) == []


def test_long_commands_print_progress_lines(settings, service, staff, catch_up, tmp_path):
    _seed(service, staff["wati"], 300, settings)
    catch_up()
    env = {**pilar_env(settings), "PILAR_PROGRESS_SECONDS": "0"}
    for args, label in ((["projections", "rebuild", "--pause", "0"], "rebuild:"),
                        (["projections", "check", "--pause", "0.5"], "check: rebuilding"),
                        (["audit", "verify"], "verify:"),
                        (["audit", "export", "--output", str(tmp_path / "out.jsonl")], "export:")):
        done = subprocess.run([PILAR, *args], capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, done.stderr
        lines = [line for line in done.stderr.splitlines() if line.startswith(label)]
        assert lines and "events (" in lines[0] and "%)" in lines[0], done.stderr
        assert lines[-1].endswith("s") and "(100%)" in lines[-1], lines[-1]
    if settings.store.kind == "sqlite":  # pg_restore says nothing of how far it has got
        backup = tmp_path / "the-backup.db"
        assert subprocess.run([PILAR, "backup", str(backup)], env=env, timeout=120).returncode == 0
        restored = subprocess.run([PILAR, "restore", "--yes", str(backup)], capture_output=True, text=True, env=env,
                                  timeout=120)
        assert restored.returncode == 0, restored.stderr
        assert [line for line in restored.stderr.splitlines() if line.startswith("restore: ") and "pages (100%)" in line]


def test_the_commands_pause_after_each_page_as_long_as_it_took_times_the_ratio(settings, service, staff, catch_up,
                                                                            monkeypatch):
    head = _seed(service, staff["wati"], 3000, settings)
    catch_up(batch_size=2000)
    pauses: list[tuple[float, float, float]] = []  # (worked, at least, slept)
    after = pace.Pace.after

    def measured(self, worked, at_least=0.0):
        slept: list[float] = []
        self.sleep = slept.append
        after(self, worked, at_least)
        pauses.append((worked, at_least, slept[0]))

    monkeypatch.setattr(pace.Pace, "after", measured)
    # On SQLite a page gives way at least as long as it held the write lock, however it is paced.
    least = GIVE_WAY if settings.store.kind == "sqlite" else 0.0
    assert rebuild(settings, page=500, pause_ratio=2.0) >= head
    assert len(pauses) >= head // 500
    assert all(worked > 0 and slept == max(2.0 * worked, at_least) and at_least >= least
               for worked, at_least, slept in pauses)
    pauses.clear()
    assert check_with_damage(settings, pause_ratio=0)[1:] == ([], [])
    assert len(pauses) >= 2 * head // 1000  # every page of the scan and of the scratch build
    assert all(slept == at_least >= least for _, at_least, slept in pauses if at_least) and \
        all(slept == 0 for _, at_least, slept in pauses if not at_least)
    refused = subprocess.run([PILAR, "projections", "rebuild", "--pause", "-1"], capture_output=True, text=True,
                             env=pilar_env(settings), timeout=120)
    assert refused.returncode == 2 and "'--pause': -1.0 is not in the range x>=0" in refused.stderr


def test_on_sqlite_every_gap_between_maintenance_transactions_outlasts_a_waiting_writers_sleep(
        settings, service, staff, catch_up, monkeypatch):
    """A writer waiting for SQLite's write turn tries again within 4 ms: rebuild's pages and the
    emptying of the tables it retires leave the turn free several times that long each time.
    PostgreSQL's writers queue on its locks instead: flat out (pause 0), nothing is waited there."""
    from pilar.projections import scratch

    _seed(service, staff["wati"], 1500, settings)
    catch_up(batch_size=2000)
    monkeypatch.setattr(scratch, "DROP_ROWS", 50)  # the retired tables emptied in many transactions
    gaps: list[float] = []
    monkeypatch.setattr(time, "sleep", gaps.append)  # scratch's own gaps, and Pace's (taken when made)
    rebuild(settings, page=200, pause_ratio=0)
    assert len(gaps) >= 1500 // 200
    if settings.store.kind == "sqlite":
        assert len(gaps) >= 1500 // 200 + 10 and min(gaps) >= GIVE_WAY >= 5 * sqlite_store.TURN_POLL[1]
    else:
        assert set(gaps) == {0}


def test_on_sqlite_pages_and_deletes_are_sized_to_hold_the_write_turn_briefly():
    sized = Sizer("sqlite", 1000)
    assert sized.size == 100  # small first: nothing is known of this store's speed yet
    sized.held(HOLD / 4, 100)  # quick: grows, at most twofold a step, up to the most
    assert sized.size == 200
    for _ in range(5):
        sized.held(HOLD / 4, sized.size)
    assert sized.size == 1000
    sized.held(HOLD * 5, 1000)  # a slow page: the next holds the turn about HOLD
    assert sized.size == 200
    sized.held(60.0, 200)  # however slow, a transaction still carries something
    assert sized.size == 20
    sized.held(0.0, 20)
    assert sized.size == 40
    postgres = Sizer("postgres", 1000)
    postgres.held(60.0, 1000)
    assert postgres.size == 1000


def test_progress_rewrites_one_line_on_a_terminal_and_estimates_what_is_left():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    screen = Terminal()
    progress = Progress("rebuild", stream=screen, every=0)
    progress(100, 1000)
    time.sleep(0.05)
    progress(500, 1000)
    progress.finish()
    shown = screen.getvalue()
    assert shown.count("\n") == 1 and shown.count("\r\x1b[K") == 3
    assert "rebuild: 500/1000 events (50%) ETA" in shown and "rebuild: 500/1000 events (50%) in" in shown
    piped = io.StringIO()
    quiet = Progress("verify", stream=piped, every=3600)
    quiet(1, 10)
    quiet(10, 10)
    quiet.finish()
    assert piped.getvalue().splitlines() == [piped.getvalue().splitlines()[-1]]
    assert piped.getvalue().startswith("verify: 10/10 events (100%) in ")


def test_postgres_swap_waits_out_a_long_read_without_queueing_readers(settings, service, staff, catch_up):
    """A read transaction holding a view longer than the swap's lock timeout: the swap gives way and
    tries again, and meanwhile other readers are not queued behind it for longer than that timeout."""
    if settings.store.kind != "postgres":
        return  # SQLite's readers never wait for a writer (write-ahead log)
    head = _seed(service, staff["wati"], 2000, settings)
    catch_up(batch_size=2000)
    holder = ViewDB(settings.store).connect()
    holder.execute("BEGIN")
    holder.execute("SELECT count(*) FROM view_cases")  # holds its lock to the end of the transaction
    waits: list[float] = []
    done = threading.Event()

    def read() -> None:
        conn = ViewDB(settings.store).connect()
        try:
            while not done.is_set():
                began = time.monotonic()
                conn.one("SELECT count(*) FROM view_cases")
                waits.append(time.monotonic() - began)
                time.sleep(0.01)
        finally:
            conn.close()

    reader = threading.Thread(target=read)
    reader.start()
    result: dict = {}
    rebuilding = threading.Thread(target=lambda: result.setdefault("position", rebuild(settings)))
    rebuilding.start()
    try:
        time.sleep(3)
        assert "position" not in result  # still giving way to the long read
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        rebuilding.join(120)
        done.set()
        reader.join(30)
    assert result["position"] == head
    assert check(settings) == (head, [])
    # Each try queues readers for at most the lock timeout (100 ms), with room for a loaded machine.
    assert waits and max(waits) < 1.0, max(waits)


def test_db_init_after_rebuilds_adds_no_second_index(settings, service, staff, catch_up):
    """SQLite keeps an index's name when its table is renamed: db init knows it by its ending."""
    from pilar.bootstrap import init_store
    from pilar.projections.schema import INDEXES, present_indexes

    _seed(service, staff["wati"], 100, settings)
    catch_up()
    rebuild(settings)
    rebuild(settings)
    init_store(settings)
    conn = ViewDB(settings.store).connect()
    try:
        assert present_indexes(conn) == {(table, name) for table, name, _ in INDEXES}
        if conn.kind == "sqlite":
            rows = conn.all("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name LIKE 'view%' "
                            "AND name NOT LIKE 'sqlite_autoindex%'")
        else:
            rows = conn.all("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
                            "AND tablename LIKE ? AND indexname NOT LIKE ?", ("view%", "%pkey"))
        assert len(rows) == len(INDEXES), rows
    finally:
        conn.close()
    assert check(settings)[1] == []
