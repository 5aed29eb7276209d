"""Damaged events, for the operator: find every one, say where the views stand, quarantine one,
or repair one from a backup (`pilar projections status|quarantine|repair`; docs/operations.md,
"When an event is damaged")."""

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass

from eventsourcing.persistence import Notification

from pilar.audit.hashing import event_hash
from pilar.audit.quarantine import Damage, damaged, quarantine, repaired
from pilar.bootstrap import bootstrap
from pilar.cases import event_mac
from pilar.cases.application import PilarApplication
from pilar.cases.errors import DamagedEvent, PilarError
from pilar.projections.pace import Pace
from pilar.projections.schema import LIVE
from pilar.projections.workload import TRACKING_NAME, without_mac
from pilar.settings import Settings
from pilar.store.config import StoreConfig
from pilar.store.connection import Connection, ViewDB
from pilar.store.shredding import Owed, owed


class NothingToQuarantine(PilarError):
    pass


class CannotRepair(PilarError):
    pass


def scan(app: PilarApplication, boundary: int, batch_size: int = 1000,
         progress: Callable[[int, int], None] | None = None, pace: Pace | None = None) -> list[DamagedEvent]:
    """Every event of the store that does not read, opened as a case read opens it (personal data
    decrypted): undecodable bytes, a MAC that does not hold (or none, after position `boundary`),
    an unknown topic, a failed decryption. `pace`: a pause after each batch (pilar/projections/pace.py)."""
    found, position = [], 0
    head = app.recorder.max_notification_id() or 0
    while True:
        began = time.monotonic()
        batch = app.recorder.select_notifications(start=position, limit=batch_size, inclusive_of_start=False)
        if not batch:
            return found
        with app.mapper.key_scope():
            for notification in batch:
                try:
                    if unsigned := without_mac(notification, boundary):
                        raise unsigned
                    app.mapper.to_domain_event(notification)
                except DamagedEvent as damage:
                    found.append(damage)
        position = batch[-1].id
        if progress is not None:
            progress(position, max(head, position))
        if pace is not None:
            pace.after(time.monotonic() - began)


def damage_at(app: PilarApplication, position: int) -> DamagedEvent | None:
    """The damage of the event at `position`, or None if it reads; NothingToQuarantine if there is none."""
    found = app.recorder.select_notifications(start=position, limit=1)
    if not found or found[0].id != position:
        raise NothingToQuarantine(f"no event is stored at position {position}")
    try:
        with app.mapper.key_scope():
            app.mapper.to_domain_event(found[0])
    except DamagedEvent as damage:
        return damage
    return None


def quarantine_event(settings: Settings, position: int, *, reason: str, by: str) -> Damage:
    """Let the views go on without the damaged event at `position`. An event that reads is refused:
    quarantine never drops a readable event from the views."""
    if not reason.strip():
        raise NothingToQuarantine("say why in --reason: it is kept with the quarantine and shown by verify")
    services = bootstrap(settings)
    conn = ViewDB(settings.store).connect()
    try:
        damage = damage_at(services.cases, position)
        if damage is None:
            raise NothingToQuarantine(f"the event at position {position} reads as Pilar wrote it: nothing to "
                                      "quarantine")
        return quarantine(conn, damage, by=by, reason=reason.strip())
    finally:
        conn.close()
        services.close()


def repair_event(settings: Settings, position: int, *, backup_url: str, by: str) -> Damage:
    """Put back the damaged event at `position` as a backup of the store holds it, once the backup's
    row is proven to be the one Pilar wrote there: its MAC holds, it reads, and it is the event
    sealed at that position (if it was sealed)."""
    backup_store = StoreConfig(backup_url)
    if backup_store.kind == "sqlite" and not backup_store.sqlite_path.is_file():
        raise CannotRepair(f"no SQLite backup at {backup_store.sqlite_path}")
    live = bootstrap(settings)
    backup = bootstrap(dataclasses.replace(settings, store=backup_store))
    conn = ViewDB(settings.store).connect()
    try:
        damage = damage_at(live.cases, position)
        if damage is None:
            raise CannotRepair(f"the event at position {position} reads as Pilar wrote it: nothing to repair")
        if any(d.position == position and d.quarantined for d in damaged(conn)):
            raise CannotRepair(f"the event at position {position} is quarantined: the projection process has sealed "
                               "it since, as it is, so that seal now vouches for the damaged bytes; it stays "
                               "quarantined")
        found = backup.cases.recorder.select_notifications(start=position, limit=1)
        if not found or found[0].id != position:
            raise CannotRepair(f"the backup holds no event at position {position}")
        problem = _unproven(live.cases, conn, found[0], settings.audit_key())
        if problem is not None:
            raise CannotRepair(f"the backup's event at position {position} is not put back: {problem}")
        live.cases.streams.restore(found[0])
        repaired(conn, damage, by=by)
        return next(d for d in damaged(conn) if d.position == position)
    finally:
        conn.close()
        backup.close()
        live.close()


def _unproven(app: PilarApplication, conn: Connection, kept: Notification, audit_key: bytes) -> str | None:
    """Why `kept` cannot be proven to be the event Pilar wrote at its position, or None."""
    stream, version = str(kept.originator_id), kept.originator_version
    if event_mac.check(event_mac.event_key(audit_key), kept.originator_id, version, kept.topic, kept.state) is not True:
        return "it carries no MAC that holds under this store's audit key"
    try:
        with app.mapper.key_scope():
            app.mapper.to_domain_event(kept)
    except DamagedEvent as damage:
        return f"it is damaged too ({damage.reason})"
    seal = conn.one("SELECT stream_id, version, event_hash FROM audit_seals WHERE position = ?", (kept.id,))
    if seal is None:
        return None
    previous = conn.one("SELECT event_hash FROM audit_seals WHERE stream_id = ? AND version = ?", (stream, version - 1))
    before = "" if version == 1 else (previous[0] if previous else "missing")
    if (seal[0], int(seal[1])) != (stream, version) or event_hash(before, stream, version, kept.topic,
                                                                  kept.state) != seal[2]:
        return "it is not the event sealed at that position"
    return None


@dataclass
class Status:
    position: int  # the views'
    head: int  # the newest event's
    damaged: list[Damage]
    owed: list[Owed] = dataclasses.field(default_factory=list)  # erased rows not yet out of the files

    @property
    def stopped_at(self) -> Damage | None:
        """The damaged event the views stand still before, if any (one not quarantined, past them)."""
        return next((d for d in self.damaged if not d.quarantined and not d.repaired and d.position > self.position),
                    None)

    def lines(self) -> list[str]:
        lines = [f"views at position {self.position} of {self.head} ({self.head - self.position} events behind)"]
        stopped = self.stopped_at
        if stopped is not None:
            lines.append(f"STOPPED at damaged event {stopped.describe()} (found {stopped.found_at})")
            lines.append(f"  repair it: pilar projections repair {stopped.position} --from BACKUP_URL, or quarantine "
                         f"it: pilar projections quarantine {stopped.position} --reason '...'")
        for damage in self.damaged:
            if damage is stopped:
                continue
            state = "quarantined" if damage.quarantined else "repaired" if damage.repaired else \
                "restored (the views read it since)" if damage.position <= self.position else \
                "damaged, after the stop"
            lines.append(f"{state}: {damage.describe()}")
        for shred in self.owed:
            lines.append(f"ERASURE CLEAN-UP OWED: erased rows still in the files of {shred.describe(time.time())} "
                         "(the projection process retries; docs/operations.md, Keys)")
        return lines


def status(settings: Settings) -> Status:
    services = bootstrap(settings)
    conn = ViewDB(settings.store).connect()
    try:
        row = conn.one(f"SELECT position FROM {LIVE}_tracking WHERE name = ?", (TRACKING_NAME,))
        return Status(int(row[0]) if row else 0, services.cases.recorder.max_notification_id() or 0, damaged(conn),
                      owed(conn))
    finally:
        conn.close()
        services.close()
