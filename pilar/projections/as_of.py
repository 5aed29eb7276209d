"""The workload views as they were at a past instant, rebuilt by replaying the event feed up
to it into a private in-memory database: the live views are never touched."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from pilar.cases import vocab
from pilar.cases.application import PilarApplication
from pilar.cases.clock import JAKARTA
from pilar.projections.queries import WorkloadQueries
from pilar.projections.workload import WorkloadProjector, create_tables
from pilar.store.connection import Connection
from pilar.store.sqlite import SQLiteConnection

PREFIX = "asof"


class _OneConnection:
    def __init__(self, conn: Connection):
        self.conn = conn

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        yield self.conn


def views_as_of(app: PilarApplication, as_of: datetime, batch_size: int = 5000,
                skip: frozenset[int] = frozenset()) -> dict[str, Any]:
    """`skip`: quarantined positions; any other damaged event raises DamagedEvent."""
    conn = SQLiteConnection.in_memory()
    try:
        create_tables(conn, PREFIX)
        projector = WorkloadProjector(conn, app.view_mapper, PREFIX, until=as_of)
        projector.skip = skip
        position = 0
        while batch := app.recorder.select_notifications(start=position, limit=batch_size, inclusive_of_start=False):
            position = projector.process(batch)
        day = as_of.astimezone(JAKARTA).date()
        queries = WorkloadQueries(_OneConnection(conn), PREFIX)
        return {
            "as_of": as_of.isoformat(),
            "today_in_jakarta": day.isoformat(),
            "events_replayed": projector.included,
            "pillars": [queries.detail(pillar, day) for pillar in vocab.PILLARS],
        }
    finally:
        conn.close()
