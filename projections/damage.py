"""Damaged events, for the operator: find every one, say where the views stand, quarantine one
(`pilar projections status|quarantine`; docs/operations.md, "When an event is damaged")."""

from dataclasses import dataclass

from audit.quarantine import Damage, damaged, quarantine
from bootstrap import bootstrap
from cases.application import PilarApplication
from cases.errors import DamagedEvent, PilarError
from projections.schema import LIVE
from projections.workload import TRACKING_NAME
from settings import Settings
from store.connection import ViewDB


class NothingToQuarantine(PilarError):
    pass


def scan(app: PilarApplication, batch_size: int = 5000) -> list[DamagedEvent]:
    """Every event of the store that does not read, opened as a case read opens it (personal data
    decrypted): undecodable bytes, a MAC that does not hold, an unknown topic, a failed decryption."""
    found, position = [], 0
    while batch := app.recorder.select_notifications(start=position, limit=batch_size, inclusive_of_start=False):
        with app.mapper.key_scope():
            for notification in batch:
                try:
                    app.mapper.to_domain_event(notification)
                except DamagedEvent as damage:
                    found.append(damage)
        position = batch[-1].id
    return found


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


@dataclass
class Status:
    position: int  # the views'
    head: int  # the newest event's
    damaged: list[Damage]

    @property
    def stopped_at(self) -> Damage | None:
        """The damaged event the views stand still before, if any (one not quarantined, past them)."""
        return next((d for d in self.damaged if not d.quarantined and d.position > self.position), None)

    def lines(self) -> list[str]:
        lines = [f"views at position {self.position} of {self.head} ({self.head - self.position} events behind)"]
        stopped = self.stopped_at
        if stopped is not None:
            lines.append(f"STOPPED at damaged event {stopped.describe()} (found {stopped.found_at})")
            lines.append(f"  restore the row from a backup, or: pilar projections quarantine {stopped.position} "
                         "--reason '...'")
        for damage in self.damaged:
            if damage is stopped:
                continue
            state = "quarantined" if damage.quarantined else \
                ("restored (the views read it since)" if damage.position <= self.position else "damaged, after the stop")
            lines.append(f"{state}: {damage.describe()}")
        return lines


def status(settings: Settings) -> Status:
    services = bootstrap(settings)
    conn = ViewDB(settings.store).connect()
    try:
        row = conn.one(f"SELECT position FROM {LIVE}_tracking WHERE name = ?", (TRACKING_NAME,))
        return Status(int(row[0]) if row else 0, services.cases.recorder.max_notification_id() or 0, damaged(conn))
    finally:
        conn.close()
        services.close()
