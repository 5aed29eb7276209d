"""Tamper evidence. The projection process seals every stored event in global order:

    event_hash = sha256(previous event_hash of the same stream | stream | version | topic | sha256(state))
    chain_hash = HMAC(audit key, previous chain_hash | position | event_hash)

so an edited row, a deleted event (a stream's tail or a whole stream), or two swapped
positions no longer match their seals, and the seals themselves cannot be rewritten without
the audit key, which is never stored in the database. Events newer than the last seal are
reported as unsealed, not as broken."""

import hashlib
import hmac
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Notification

from store.connection import Connection

SEAL_STATEMENTS = [
    """CREATE TABLE IF NOT EXISTS audit_seals (
        position BIGINT PRIMARY KEY,
        stream_id TEXT NOT NULL,
        version BIGINT NOT NULL,
        event_hash TEXT NOT NULL,
        chain_hash TEXT NOT NULL)""",
    "CREATE UNIQUE INDEX IF NOT EXISTS audit_seals_by_stream ON audit_seals (stream_id, version)",
]


def event_hash(previous: str, stream_id: str, version: int, topic: str, state: bytes) -> str:
    digest = hashlib.sha256()
    digest.update(f"{previous}|{stream_id}|{version}|{topic}|".encode())
    digest.update(hashlib.sha256(state).digest())
    return digest.hexdigest()


def chain_hash(key: bytes, previous: str, position: int, hashed: str) -> str:
    return hmac.new(key, f"{previous}|{position}|{hashed}".encode(), hashlib.sha256).hexdigest()


class Sealer:
    def __init__(self, conn: Connection, key: bytes):
        self.conn = conn
        self.key = key

    def last(self) -> tuple[int, str]:
        row = self.conn.one("SELECT position, chain_hash FROM audit_seals ORDER BY position DESC LIMIT 1")
        return (int(row[0]), row[1]) if row else (0, "")

    def prepare(self, notifications: Sequence[Notification], last: tuple[int, str]) -> list[tuple]:
        """The seal rows of the notifications after `last` (the newest seal's position and
        chain hash), reading the previous hashes they need but writing nothing."""
        position, chain = last
        previous: dict[str, str] = {}
        rows = []
        for n in notifications:
            if n.id <= position:
                continue
            stream = str(n.originator_id)
            if stream not in previous and n.originator_version > 1:
                found = self.conn.one("SELECT event_hash FROM audit_seals WHERE stream_id = ? AND version = ?",
                                      (stream, n.originator_version - 1))
                previous[stream] = found[0] if found else "missing"
            hashed = event_hash(previous.get(stream, ""), stream, n.originator_version, n.topic, n.state)
            chain = chain_hash(self.key, chain, n.id, hashed)
            previous[stream] = hashed
            rows.append((n.id, stream, n.originator_version, hashed, chain))
        return rows

    def write(self, rows: Sequence[tuple]) -> None:
        """Insert prepared seal rows, inside the caller's transaction."""
        self.conn.executemany(
            "INSERT INTO audit_seals (position, stream_id, version, event_hash, chain_hash) VALUES (?, ?, ?, ?, ?)",
            rows)


# Reading the event hashes needs no key: only sealing and verifying do.
def hashes_between(conn: Connection, after: int, last: int) -> dict[int, str]:
    """Event hashes by position, for positions after `after` up to `last`."""
    rows = conn.all("SELECT position, event_hash FROM audit_seals WHERE position > ? AND position <= ?", (after, last))
    return {int(p): h for p, h in rows}


def stream_hashes(conn: Connection, stream_id: UUID, versions: Sequence[int]) -> dict[int, str]:
    """Event hashes of one stream by version."""
    if not versions:
        return {}
    rows = conn.all(
        f"SELECT version, event_hash FROM audit_seals WHERE stream_id = ? AND version IN "
        f"({', '.join('?' * len(versions))})", [str(stream_id), *versions])
    return {int(v): h for v, h in rows}


@dataclass
class Break:
    kind: str
    message: str
    stream_id: str | None
    version: int | None
    position: int


@dataclass
class Verification:
    checked: int = 0
    sealed_up_to: int = 0
    unsealed: int = 0
    breaks: list[Break] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaks

    def as_dict(self) -> dict:
        first = self.breaks[0] if self.breaks else None
        return {
            "ok": self.ok, "events_checked": self.checked, "sealed_up_to": self.sealed_up_to,
            "unsealed_events": self.unsealed,
            "first_break": None if first is None else {
                "kind": first.kind, "message": first.message, "stream_id": first.stream_id,
                "version": first.version, "position": first.position},
        }


def verify(recorder: ApplicationRecorder, conn: Connection, key: bytes, batch_size: int = 10_000) -> Verification:
    """Recompute every hash from the stored events and compare with the seals; stop at the first break."""
    result = Verification()
    row = conn.one("SELECT MAX(position) FROM audit_seals")
    result.sealed_up_to = int(row[0]) if row and row[0] is not None else 0
    last_hash: dict[str, str] = {}
    last_version: dict[str, int] = {}
    chain = ""
    events = _events(recorder, batch_size)
    seals = _seals(conn, batch_size)
    event, seal = next(events, None), next(seals, None)

    def fail(kind: str, message: str, stream: str | None, version: int | None, position: int) -> Verification:
        result.breaks.append(Break(kind, message, stream, version, position))
        return result

    while event is not None or seal is not None:
        if seal is not None and (event is None or seal[0] < event.id):
            return fail("missing_event", f"sealed event (stream {seal[1]}, version {seal[2]}) is gone",
                        seal[1], seal[2], seal[0])
        stream, version = str(event.originator_id), event.originator_version
        if version != last_version.get(stream, 0) + 1:
            return fail("stream_gap", f"stream {stream} jumps from version {last_version.get(stream, 0)} to {version}",
                        stream, version, event.id)
        hashed = event_hash(last_hash.get(stream, ""), stream, version, event.topic, event.state)
        if seal is not None and seal[0] == event.id:
            if (seal[1], seal[2]) != (stream, version):
                return fail("reordered", f"position {event.id} holds stream {stream} version {version}, "
                                         f"but was sealed for stream {seal[1]} version {seal[2]}",
                            stream, version, event.id)
            if hashed != seal[3]:
                return fail("edited", f"stream {stream} version {version} differs from what was sealed",
                            stream, version, event.id)
            chain = chain_hash(key, chain, event.id, hashed)
            if chain != seal[4]:
                return fail("seal_chain", f"the seal chain breaks at position {event.id}: seals were altered",
                            stream, version, event.id)
            seal = next(seals, None)
        elif event.id <= result.sealed_up_to:
            return fail("unsealed_insert", f"stream {stream} version {version} appeared inside the sealed range",
                        stream, version, event.id)
        else:
            result.unsealed += 1
        last_hash[stream] = hashed
        last_version[stream] = version
        result.checked += 1
        event = next(events, None)
    return result


def _events(recorder: ApplicationRecorder, batch_size: int) -> Iterator[Notification]:
    position = 0
    while batch := recorder.select_notifications(start=position, limit=batch_size, inclusive_of_start=False):
        yield from batch
        position = batch[-1].id


def _seals(conn: Connection, batch_size: int) -> Iterator[tuple]:
    position = -1
    while rows := conn.all("SELECT position, stream_id, version, event_hash, chain_hash FROM audit_seals "
                           "WHERE position > ? ORDER BY position LIMIT ?", (position, batch_size)):
        for row in rows:
            yield (int(row[0]), row[1], int(row[2]), row[3], row[4])
        position = int(rows[-1][0])
