"""A large store, quickly: the case streams already written (through the application service,
so every rule applied) copied under new ids, in large transactions, each copy's MAC made again
under the store's audit key. The views read copies as they read the originals (a copy's personal
data stays sealed under the original's key, which the views never open).

SQLite: through the recorder. PostgreSQL: by COPY, holding the events table's lock as the
recorder does (the recorder's insert adapts every event as a composite value in Python, about
150 events/s on a busy machine: days for a million)."""

import uuid

from eventsourcing.persistence import StoredEvent
from psycopg.sql import SQL, Identifier

from pilar.cases import event_mac

CASE_TOPIC = "cases.case:Case."


def copy_case_streams(app, audit_key: bytes, events: int, *, until: int | None = None, per_transaction: int = 20_000,
                      said=lambda head: None) -> int:
    """Copy the store's case streams, as they stood at position `until` (None: now), until the
    store holds about `events` events; returns its head."""
    streams: dict = {}
    for n in app.recorder.select_notifications(start=0, limit=10**9, stop=until):
        if n.topic.startswith(CASE_TOPIC):
            streams.setdefault(n.originator_id, []).append(n)
    if not streams:
        raise ValueError("no case stream to copy: open a case first")
    key = event_mac.event_key(audit_key)
    head = app.recorder.max_notification_id() or 0
    pending: list[StoredEvent] = []
    while head < events:
        for stream in streams.values():
            copy = uuid.uuid4()
            pending += [StoredEvent(copy, n.originator_version, n.topic,
                                    event_mac.sign(key, copy, n.originator_version, n.topic, event_mac.payload(n.state)))
                        for n in stream]
            if len(pending) >= per_transaction or head + len(pending) >= events:
                _insert(app.recorder, pending)
                head, pending = app.recorder.max_notification_id() or 0, []
                said(head)
                if head >= events:
                    break
    return head


def _insert(recorder, events: list[StoredEvent]) -> None:
    schema = getattr(recorder.datastore, "schema", None)
    if schema is None:
        recorder.insert_events(events)
        return
    table = SQL("{}.{}").format(Identifier(schema), Identifier(recorder.events_table_name))
    with recorder.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as cursor:
        cursor.execute(SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(table))  # ids in commit order
        columns = SQL("COPY {} (originator_id, originator_version, topic, state) FROM STDIN").format(table)
        with cursor.copy(columns) as copy:
            copy.set_types(["uuid", "int8", "text", "bytea"])
            for event in events:
                copy.write_row((event.originator_id, event.originator_version, event.topic, event.state))
