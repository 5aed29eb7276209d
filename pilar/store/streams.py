"""The queries on the event table that eventsourcing's recorders do not offer, one class per
store (`SQLiteStreams`, `PostgresStreams`)."""

from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Notification


class StreamQueries:
    def __init__(self, recorder: ApplicationRecorder):
        self.recorder = recorder
        self.datastore = recorder.datastore  # type: ignore[attr-defined]
        self.table = recorder.events_table_name  # type: ignore[attr-defined]

    @property
    def qualified_table(self) -> str:
        """The events table as a query of the store's own connections names it."""
        return self.table

    def head_sql(self) -> str:
        """SQL for the global position of the newest stored event."""
        raise NotImplementedError

    def position_of(self, originator_id: UUID, version: int) -> int | None:
        """The global position (notification id) of one stored event."""
        raise NotImplementedError

    def select_stream(self, originator_id: UUID, *, after_version: int = 0,
                      limit: int = 100) -> list[Notification]:
        """One stream's events in version order, each with its global position."""
        rows = self._stream_rows(originator_id, after_version, limit)
        return [Notification(id=p, originator_id=originator_id, originator_version=v, topic=t, state=s)
                for p, v, t, s in rows]

    def _stream_rows(self, originator_id: UUID, after_version: int, limit: int) -> list[tuple]:
        raise NotImplementedError

    def drop_snapshots(self, table: str, originator_id: UUID, before_version: int) -> None:
        """Deletes one stream's snapshots older than `before_version` from the snapshot table."""
        raise NotImplementedError

    def restore(self, event: Notification) -> None:
        """Put back the row at `event.id` as `event` holds it (a damaged row, from a backup: the
        caller has proven it is the event Pilar wrote there)."""
        raise NotImplementedError

    def originators(self, topic: str) -> list[UUID]:
        """The streams holding an event of `topic` (e.g. every account: their creation events).
        Fast only for a topic `topic_index` was created for."""
        raise NotImplementedError

    def _by_topic(self, topic: str) -> str:
        # The topic as a literal, as in the index's WHERE: with a parameter in its place neither
        # SQLite nor PostgreSQL (in a generic plan) could know that the partial index applies.
        return f"SELECT DISTINCT originator_id FROM {self.qualified_table} WHERE topic = {_literal(topic)}"

    def topic_index(self, name: str, topic: str) -> str:
        """DDL of a partial index on the events of one topic (`pilar db init` runs it): a handful of
        rows, so writes of other events do not pay for it."""
        return f"CREATE INDEX IF NOT EXISTS {name} ON {self.table} (originator_id) WHERE topic = {_literal(topic)}"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def streams_for(recorder: ApplicationRecorder) -> StreamQueries:
    # eventsourcing's PostgreSQL datastore has a schema; its SQLite one does not.
    if hasattr(recorder.datastore, "schema"):  # type: ignore[attr-defined]
        from pilar.store.postgres import PostgresStreams

        return PostgresStreams(recorder)
    from pilar.store.sqlite import SQLiteStreams

    return SQLiteStreams(recorder)
