"""Rebuild and check the views (`pilar projections rebuild|check`), online: both build into
scratch tables (pilar/projections/scratch.py). Neither stops at a damaged event: check lists every
one, rebuild refuses while one is not quarantined. One runs at a time per store."""

from dataclasses import dataclass

from pilar.audit.quarantine import mac_boundary
from pilar.bootstrap import bootstrap
from pilar.cases.application import PilarApplication
from pilar.cases.errors import DamagedEvent
from pilar.projections.damage import scan
from pilar.projections.pace import PAUSE_RATIO, Pace
from pilar.projections.schema import LIVE, create_statements, drop_statements
from pilar.projections.scratch import NEAR, NotQuarantined, Progress, ScratchViews, drop_tables
from pilar.projections.workload import TRACKING_NAME, WorkloadProjector
from pilar.settings import Settings
from pilar.store.connection import Connection, ViewDB

COMPARED = {
    "cases": "case_id",
    "follow_ups": "case_id, follow_up_id",
    "open_counts": "pillar, kecamatan, dimension, key",
    "monthly": "pillar, kecamatan, month",
    "aid": "pillar, kecamatan, component, item",
    "assessment_days": "pillar, kecamatan, days",
    "privacy_requests": "request_id",
    "people": "beneficiary_id",
    "aid_days": "pillar, kecamatan, component, given_on",
    "referrals": "case_id, referral_id",
    "households": "beneficiary_id",
    "desil": "beneficiary_id",
}


def replay_into(app: PilarApplication, conn: Connection, prefix: str, *, stop: int | None = None,
                batch_size: int = 5000, skip: frozenset[int] = frozenset(),
                found: list[DamagedEvent] | None = None, boundary: int | None = None) -> int:
    """Build the views of `prefix` from event zero up to `stop` (inclusive), in the caller's
    transaction, without the events at `skip` (the benchmarks' replay; the commands build in
    short transactions: scratch.py). A damaged event (or, past `boundary`, one without a MAC) raises DamagedEvent, unless `found` is given: then it is added there and left out."""
    for statement in drop_statements(prefix) + create_statements(prefix):
        conn.execute(statement)
    projector = WorkloadProjector(conn, app.view_mapper, prefix, household_key=app.household_key_of)
    projector.skip = frozenset(skip)
    projector.mac_boundary = boundary
    position = 0
    while True:
        notifications = app.recorder.select_notifications(
            start=position, limit=batch_size, stop=stop, inclusive_of_start=False)
        if not notifications:
            return position
        while True:
            try:
                position = projector.process_within_transaction(notifications)
                break
            except DamagedEvent as damage:  # nothing of the batch is written before it is prepared whole
                if found is None or damage.position is None:
                    raise
                found.append(damage)
                projector.skip |= {damage.position}


MAINTENANCE_LOCK = "maintenance"
BUSY = "another `pilar projections rebuild` or `check` is running on this store"


def rebuild(settings: Settings, *, wait_seconds: float = 10.0, progress: Progress | None = None,
            page: int = 1000, timings: dict | None = None, pause_ratio: float = PAUSE_RATIO) -> int:
    """Rebuild the views from event zero into scratch tables while servers and the projection
    process keep running, then swap them in for the live ones in one short transaction (readers
    see the old views until then). Returns the position the new views stand at; `timings` gets
    `swap_seconds`, how long the swap held the views. LockBusy if another rebuild or check runs;
    NotQuarantined (views unchanged) on a damaged event. `pause_ratio`: pilar/projections/pace.py."""
    services = bootstrap(settings)
    conn = ViewDB(settings.store).connect(checkpoints=True)
    try:
        with conn.exclusive(MAINTENANCE_LOCK, wait_seconds, BUSY):
            drop_tables(conn)  # what a rebuild or check that was killed left
            found: list[DamagedEvent] = []
            scratch = ScratchViews(services.cases, conn, "rebuild", boundary=mac_boundary(conn, settings.audit_key()),
                                   page=page, found=found, progress=progress, pace=Pace(pause_ratio))
            try:
                scratch.create()
                scratch.catch_up()
                if found:
                    raise NotQuarantined(found)
                position = scratch.swap()
                if timings is not None:
                    timings["swap_seconds"] = scratch.held
                return position
            finally:
                drop_tables(conn)  # the scratch tables, or the old live ones after the swap
    finally:
        conn.close()
        services.close()


@dataclass
class Difference:
    table: str
    only_live: list[tuple]
    only_rebuilt: list[tuple]


def check(settings: Settings) -> tuple[int, list[Difference]]:
    """Rebuild into scratch tables up to the live views' position and compare every row."""
    position, differences, _ = check_with_damage(settings)
    return position, differences


def check_with_damage(settings: Settings, *, wait_seconds: float = 10.0, progress: Progress | None = None,
                      scanning: Progress | None = None,
                      pause_ratio: float = PAUSE_RATIO) -> tuple[int, list[Difference], list[DamagedEvent]]:
    """As check, and every damaged event of the store, quarantined or not (the rebuild leaves them
    out). The live views are only read, in one snapshot at the end, once the scratch tables stand
    just behind them: no writer or reader waits for the replay."""
    services = bootstrap(settings)
    live = ViewDB(settings.store).connect()
    conn = ViewDB(settings.store).connect(checkpoints=True)
    try:
        with conn.exclusive(MAINTENANCE_LOCK, wait_seconds, BUSY):
            drop_tables(conn)
            boundary = mac_boundary(live, settings.audit_key())
            pace = Pace(pause_ratio)
            damaged = scan(services.cases, boundary, progress=scanning, pace=pace)
            # As the projection process did: without the quarantined events; one damaged since it
            # passed is left out too (and so shows as a difference).
            scratch = ScratchViews(services.cases, conn, "check", boundary=boundary, found=[], progress=progress,
                                   pace=pace)
            try:
                scratch.create()
                while scratch.catch_up(stop=_position(live)) > NEAR:
                    pass
                with live.snapshot():
                    position = _position(live)
                    scratch.catch_up(stop=position)
                    live_rows = {table: _rows(live, LIVE, table) for table in COMPARED}
                differences = []
                for table in COMPARED:
                    rebuilt = _rows(conn, scratch.prefix, table)
                    only_live = sorted(live_rows[table] - rebuilt)
                    only_rebuilt = sorted(rebuilt - live_rows[table])
                    if only_live or only_rebuilt:
                        differences.append(Difference(table, only_live, only_rebuilt))
                return position, differences, damaged
            finally:
                scratch.drop()
    finally:
        live.close()
        conn.close()
        services.close()


def _position(conn: Connection) -> int:
    row = conn.one(f"SELECT position FROM {LIVE}_tracking WHERE name = ?", (TRACKING_NAME,))
    return int(row[0]) if row else 0


def _rows(conn: Connection, prefix: str, table: str) -> set[tuple]:
    return {tuple(row) for row in conn.all(f"SELECT * FROM {prefix}_{table}")}
