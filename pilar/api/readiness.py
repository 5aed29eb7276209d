"""`/readyz`'s checks: the store answers, the local disks take writes, a projection process leads
and moves, and the views trail the store by less than the threshold. Each failing check is named
in the answer with what is wrong. Cheap: one query for the positions, one for the heartbeat, and a
disk probe remembered for a few seconds."""

import sqlite3
import time
from typing import Any

from flask import Flask

from pilar.bootstrap import Services
from pilar.projections.heartbeat import TABLE, Beat, read_beat
from pilar.projections.readiness import Check, Thresholds, lag_check, lag_seconds, projection_check
from pilar.store.disk_probe import DiskProbe
from pilar.store.faults import STORE_UNREACHABLE
from pilar.store.shredding import TABLE as OWED_TABLE, Owed, owed

UNREACHABLE = (*STORE_UNREACHABLE, sqlite3.OperationalError)
RETRY_AFTER = "5"


class Readiness:
    def __init__(self, services: Services):
        settings = services.settings
        self.services = services
        self.up_since = time.time()
        self.limits = Thresholds(settings.ready_max_lag, settings.ready_projector_timeout)
        # What Pilar writes at run time: the SQLite database, and the heads file (the instance folder
        # by default). Keys are only read, so a read-only instance folder beside PILAR_HEADS_FILE is fine.
        folders = [settings.heads_path.parent]
        if settings.store.kind == "sqlite":
            folders.insert(0, settings.store.sqlite_path.parent)
        self.disk = DiskProbe(folders)

    def report(self) -> tuple[bool, dict[str, Any]]:
        """(ready, the answer's body)."""
        now = time.time()
        checks: dict[str, Check] = {}
        failures = self.disk.failures()
        checks["disk"] = Check(not failures, "; ".join(failures) or "the disks take writes", {})
        body: dict[str, Any] = {}
        try:
            fresh = self.services.views.freshness_now()  # a probe asks the store itself, not the shared reading
            beat, missing = self._beat()
        except UNREACHABLE as error:
            checks["store"] = Check(False, f"the event store is not reachable ({type(error).__name__})", {})
        else:
            checks["store"] = Check(True, "the event store answers", {})
            if missing:
                checks["projection"] = Check(False, "the store has no heartbeat table: run `pilar db init`", {})
            else:
                checks["projection"] = projection_check(beat, self.limits, now, self.up_since)
            checks["lag"] = lag_check(fresh.position, fresh.head, beat, self.limits, now, self.up_since)
            body = {"position": fresh.head, "views": {
                **fresh.as_dict(), "lag_seconds": round(lag_seconds(fresh.position, fresh.head, beat, now,
                                                                    self.up_since), 1)}}
            # Not a reason to refuse traffic, but an operator must see it (docs/operations.md, Keys).
            body["erasure_cleanup_owed"] = [{"table": o.table, "seconds": round(now - o.since), "waiting_for": o.held_by}
                                            for o in self.owed()]
        failing = [name for name, check in checks.items() if not check.ok]
        return not failing, {"status": "not ready" if failing else "ready", "failing": failing, **body,
                             "checks": {name: check.as_dict() for name, check in checks.items()}}

    def owed(self) -> list[Owed]:
        """Erased rows not yet out of the database files (pilar/store/shredding.py)."""
        with self.services.readers.connection() as conn:
            try:
                return owed(conn)
            except Exception as error:  # noqa: BLE001 - a store set up before shreds were owed
                if OWED_TABLE not in str(error):
                    raise
                return []

    def beat(self) -> Beat | None:
        return self._beat()[0]

    def _beat(self) -> tuple[Beat | None, bool]:
        """(the heartbeat, whether its table is missing)."""
        with self.services.readers.connection() as conn:
            try:
                return read_beat(conn), False
            except Exception as error:  # noqa: BLE001 - a store set up before the heartbeat existed
                if TABLE not in str(error):
                    raise
                return None, True


def init_readiness(app: Flask) -> None:
    app.extensions["pilar_readiness"] = Readiness(app.extensions["pilar"])


def readiness(app: Flask) -> Readiness:
    return app.extensions["pilar_readiness"]
