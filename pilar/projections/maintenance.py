"""Rebuild and check the views (`pilar projections rebuild|check`). Neither stops at a damaged
event: check lists every one, rebuild refuses while one is not quarantined."""

import os
import time
from dataclasses import dataclass

from pilar.audit.quarantine import mac_boundary, quarantined_between
from pilar.bootstrap import bootstrap
from pilar.cases.application import PilarApplication
from pilar.cases.errors import DamagedEvent
from pilar.projections.damage import scan
from pilar.projections.leader import Leadership
from pilar.projections.schema import LIVE, create_statements, drop_statements
from pilar.projections.workload import WorkloadProjector
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
}


def replay_into(app: PilarApplication, conn: Connection, prefix: str, *, stop: int | None = None,
                batch_size: int = 5000, skip: frozenset[int] = frozenset(),
                found: list[DamagedEvent] | None = None, boundary: int | None = None) -> int:
    """Build the views of `prefix` from event zero up to `stop` (inclusive), in the caller's
    transaction, without the events at `skip`. A damaged event (or, past `boundary`, one without a
    MAC) raises DamagedEvent, unless `found` is given: then it is added there and left out."""
    for statement in drop_statements(prefix) + create_statements(prefix):
        conn.execute(statement)
    projector = WorkloadProjector(conn, app.view_mapper, prefix)
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


class NotQuarantined(RuntimeError):
    def __init__(self, damaged: list[DamagedEvent]):
        self.damaged = damaged
        super().__init__(f"{len(damaged)} damaged event(s) not quarantined; the views are unchanged: "
                         + "; ".join(str(d) for d in damaged))


class LeaderBusy(RuntimeError):
    pass


def rebuild(settings: Settings, *, wait_seconds: float = 10.0) -> int:
    """Rebuild the live views from event zero in one transaction: readers see the old views
    until the new ones are complete. Takes the projection lock, so no projector writes meanwhile."""
    services = bootstrap(settings)
    conn = ViewDB(settings.store).connect()
    leadership = Leadership(conn)
    try:
        deadline = time.monotonic() + wait_seconds
        while not leadership.try_acquire():
            if time.monotonic() > deadline:
                raise LeaderBusy("a projection process is active: stop `pilar project` first, then rebuild")
            time.sleep(0.2)
        try:
            with conn.transaction():
                found: list[DamagedEvent] = []
                position = replay_into(services.cases, conn, LIVE, skip=quarantined_between(conn, 0), found=found,
                                       boundary=mac_boundary(conn, settings.audit_key()))
                if found:
                    raise NotQuarantined(found)  # rolls the rebuild back
                return position
        finally:
            leadership.release()
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


def check_with_damage(settings: Settings) -> tuple[int, list[Difference], list[DamagedEvent]]:
    """As check, and every damaged event of the store, quarantined or not (the rebuild leaves them out)."""
    services = bootstrap(settings)
    live = ViewDB(settings.store).connect()
    scratch = ViewDB(settings.store).connect()
    prefix = f"check{os.getpid()}"
    try:
        with live.snapshot():
            row = live.one(f"SELECT position FROM {LIVE}_tracking WHERE name = 'workload'")
            position = int(row[0]) if row else 0
            live_rows = {table: _rows(live, LIVE, table) for table in COMPARED}
            quarantined = quarantined_between(live, 0)
        boundary = mac_boundary(live, settings.audit_key())
        damaged = scan(services.cases, boundary)
        try:
            with scratch.transaction():
                if position:
                    # As the projection process did: without the quarantined events; one damaged
                    # since it passed is left out too (and so shows as a difference).
                    replay_into(services.cases, scratch, prefix, stop=position,
                                skip=quarantined, found=[], boundary=boundary)
                else:
                    for statement in create_statements(prefix):
                        scratch.execute(statement)
            differences = []
            for table in COMPARED:
                rebuilt = _rows(scratch, prefix, table)
                only_live = sorted(live_rows[table] - rebuilt)
                only_rebuilt = sorted(rebuilt - live_rows[table])
                if only_live or only_rebuilt:
                    differences.append(Difference(table, only_live, only_rebuilt))
            return position, differences, damaged
        finally:
            with scratch.transaction():
                for statement in drop_statements(prefix):
                    scratch.execute(statement)
    finally:
        live.close()
        scratch.close()
        services.close()


def _rows(conn: Connection, prefix: str, table: str) -> set[tuple]:
    return {tuple(row) for row in conn.all(f"SELECT * FROM {prefix}_{table}")}
