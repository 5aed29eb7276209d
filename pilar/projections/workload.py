"""The workload projector: case events in global order → view rows, counters and tracking
position, written in one transaction per batch (exactly once, restartable)."""

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timezone
from functools import singledispatchmethod
from typing import Any

from eventsourcing.persistence import Notification

from pilar.cases import event_mac
from pilar.cases.case import Case, derive_status
from pilar.cases.clock import jakarta_month, parse_utc, utc_text
from pilar.cases.errors import DamagedEvent
from pilar.cases.personal_data import PersonalDataMapper
from pilar.store.connection import Connection
from pilar.projections.privacy import PRIVACY_TOPICS, PrivacyChanges
from pilar.projections.schema import CASE_COLUMNS, LIVE, create_statements

CASE_TOPIC_PREFIX = "cases.case:Case."
PRIORITY_RANK = {"urgent": 0, "high": 1, "normal": 2, "low": 3}
TRACKING_NAME = "workload"


def without_mac(notification: Notification, boundary: int) -> DamagedEvent | None:
    """The damage of an event past the store's MAC boundary that carries no MAC (its mapper lets
    one without a MAC through: it does not know the boundary)."""
    if notification.id <= boundary or event_mac.signed(notification.state):
        return None
    since = f" after position {boundary}" if boundary else ""
    return DamagedEvent(notification.originator_id, notification.originator_version, notification.id,
                        f"it carries no MAC, though every event of this store{since} must")


def create_tables(conn: Connection, prefix: str = LIVE) -> None:
    with conn.transaction():
        for statement in create_statements(prefix):
            conn.execute(statement)


class WorkloadProjector:
    def __init__(self, conn: Connection, mapper: PersonalDataMapper, prefix: str = LIVE,
                 until: datetime | None = None):
        self.conn = conn
        self.mapper = mapper
        self.prefix = prefix
        self.until = until  # views as of a past instant: events after it are left out
        self.included = 0
        self.skip: frozenset[int] = frozenset()  # quarantined positions (pilar/audit/quarantine.py)
        self.mac_boundary: int | None = None  # events after it must carry a MAC (None: not checked)

    def position(self) -> int:
        row = self.conn.one(f"SELECT position FROM {self.prefix}_tracking WHERE name = ?", (TRACKING_NAME,))
        return int(row[0]) if row else 0

    def process(self, notifications: Sequence[Notification]) -> int:
        """Apply one batch and record its last position, all in one transaction."""
        with self.conn.transaction():
            return self.process_within_transaction(notifications)

    def process_within_transaction(self, notifications: Sequence[Notification]) -> int:
        """For callers that hold a longer transaction of their own (a rebuild)."""
        return self.write(self.prepare(notifications))

    def prepare(self, notifications: Sequence[Notification]) -> "Batch":
        """Decode a batch and work out its changes, reading the rows they touch but writing
        nothing: the projection process does this before it takes SQLite's one write lock.
        A damaged event raises DamagedEvent, even one the views do not read: its topic may be
        what was damaged, so passing over it could silently drop a case's event."""
        batch = Batch(self.conn, self.prefix, notifications[-1].id)
        for notification in notifications:
            if notification.id in self.skip:
                continue
            if self.mac_boundary is not None and (unsigned := without_mac(notification, self.mac_boundary)):
                raise unsigned
            case_event = notification.topic.startswith(CASE_TOPIC_PREFIX)
            if not case_event and notification.topic not in PRIVACY_TOPICS:
                self.mapper.check_mac(notification)
                continue
            event = self.mapper.to_domain_event(notification)
            if self.until is not None and event.timestamp > self.until:
                continue
            if case_event:
                batch.apply(event, notification.id)
                self.included += 1
            else:
                batch.privacy.apply(event, notification.id)
        return batch

    def write(self, batch: "Batch") -> int:
        """Write a prepared batch and its last position, inside the caller's transaction."""
        batch.flush()
        self.conn.execute(
            f"INSERT INTO {self.prefix}_tracking (name, position, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at",
            (TRACKING_NAME, batch.last, utc_text(datetime.now(timezone.utc))),
        )
        return batch.last


class Batch:
    """The changes of one batch, gathered in memory and written at once."""

    def __init__(self, conn: Connection, prefix: str, last: int):
        self.conn = conn
        self.p = prefix
        self.last = last
        self.rows: dict[str, dict[str, Any] | None] = {}
        self.follow_ups: dict[tuple[str, str], dict[str, Any]] = {}
        self.pillar_moves: list[tuple[str, str]] = []
        # Keyed by (pillar, kecamatan, ...): every counter is kept per kecamatan of the case's desa.
        self.open_counts: dict[tuple[str, str, str, str], int] = defaultdict(int)
        self.monthly: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
        self.aid: dict[tuple[str, str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
        self.assessment_days: dict[tuple[str, str, int], int] = defaultdict(int)
        self.privacy = PrivacyChanges(conn, prefix)

    def _row(self, case_id: str) -> dict[str, Any] | None:
        if case_id not in self.rows:
            found = self.conn.one(f"SELECT {', '.join(CASE_COLUMNS)} FROM {self.p}_cases WHERE case_id = ?", (case_id,))
            self.rows[case_id] = dict(zip(CASE_COLUMNS, found)) if found else None
        return self.rows[case_id]

    def apply(self, event: Case.Event, position: int) -> None:
        case_id = str(event.originator_id)
        at = event.timestamp
        if isinstance(event, Case.CaseOpened):
            row = None
            new = {
                "case_id": case_id, "beneficiary_id": str(event.beneficiary_id), "pillar": event.pillar,
                "status": "referred", "priority": event.priority, "priority_rank": PRIORITY_RANK[event.priority],
                "kecamatan_code": event.kecamatan_code, "desa_code": event.desa_code, "worker": None,
                "categories": ",".join(event.categories), "opened_at": utc_text(at), "assessed_at": None,
                "aid_count": 0, "closed_at": None, "outcome": None, "open_follow_ups": "{}",
                "next_follow_up_due": None, "pending_referral_to": None,
            }
            self.monthly[(event.pillar, event.kecamatan_code, jakarta_month(at))][0] += 1
        else:
            row = self._row(case_id)
            if row is None:
                return  # an event of a case this view never saw opened cannot be placed
            new = dict(row)
            self._change(event, new)
        new["status"] = _status(new)
        new.update(version=event.originator_version, updated_at=utc_text(at), position=position)
        for dim in _open_dimensions(row) - _open_dimensions(new):
            self.open_counts[dim] -= 1
        for dim in _open_dimensions(new) - _open_dimensions(row):
            self.open_counts[dim] += 1
        self.rows[case_id] = new

    @singledispatchmethod
    def _change(self, event: Case.Event, row: dict[str, Any]) -> None:
        """Apply one event to a copy of its case's row; an event the views do not show changes nothing."""

    @_change.register(Case.CaseAssigned)
    def _case_assigned(self, event: Case.CaseAssigned, row: dict[str, Any]) -> None:
        row["worker"] = event.worker

    @_change.register(Case.NeedsAssessed)
    def _needs_assessed(self, event: Case.NeedsAssessed, row: dict[str, Any]) -> None:
        if row["assessed_at"] is None:  # only the first assessment counts towards the histogram
            row["assessed_at"] = utc_text(event.timestamp)
            days = (event.timestamp - parse_utc(row["opened_at"])).days
            self.assessment_days[(*_where(row), days)] += 1

    @_change.register(Case.AidGiven)
    def _aid_given(self, event: Case.AidGiven, row: dict[str, Any]) -> None:
        row["aid_count"] += 1
        totals = self.aid[(*_where(row), event.component, event.item)]
        totals[0] += 1
        totals[1] += event.quantity
        totals[2] += event.value_idr

    @_change.register(Case.FollowUpScheduled)
    def _follow_up_scheduled(self, event: Case.FollowUpScheduled, row: dict[str, Any]) -> None:
        due = event.due_on.isoformat()
        self._set_follow_ups(row, json.loads(row["open_follow_ups"]) | {event.follow_up_id: due})
        # The purpose is the case's free text, encrypted under its key (pilar/cases/personal_fields.py):
        # the views keep none of it (the column stays empty, for tables made before).
        self.follow_ups[(row["case_id"], event.follow_up_id)] = {
            "pillar": row["pillar"], "due_on": due, "purpose": "", "open": 1}

    @_change.register(Case.FollowUpCompleted)
    def _follow_up_completed(self, event: Case.FollowUpCompleted, row: dict[str, Any]) -> None:
        open_follow_ups = json.loads(row["open_follow_ups"])
        open_follow_ups.pop(event.follow_up_id, None)
        self._set_follow_ups(row, open_follow_ups)
        key = (row["case_id"], event.follow_up_id)
        if key not in self.follow_ups:
            found = self.conn.one(
                f"SELECT pillar, due_on, purpose FROM {self.p}_follow_ups WHERE case_id = ? AND follow_up_id = ?", key)
            self.follow_ups[key] = {"pillar": found[0], "due_on": found[1], "purpose": found[2]}
        self.follow_ups[key]["open"] = 0

    @_change.register(Case.ReferralSent)
    def _referral_sent(self, event: Case.ReferralSent, row: dict[str, Any]) -> None:
        row["pending_referral_to"] = event.to_pillar

    @_change.register(Case.ReferralAccepted)
    def _referral_accepted(self, event: Case.ReferralAccepted, row: dict[str, Any]) -> None:
        case_id = row["case_id"]
        row["pillar"] = row["pending_referral_to"]
        row["worker"] = None
        row["pending_referral_to"] = None
        self.pillar_moves.append((row["pillar"], case_id))
        for (follow_case, _), follow_up in self.follow_ups.items():
            if follow_case == case_id:
                follow_up["pillar"] = row["pillar"]

    @_change.register(Case.ReferralDeclined)
    def _referral_declined(self, event: Case.ReferralDeclined, row: dict[str, Any]) -> None:
        row["pending_referral_to"] = None

    @_change.register(Case.CaseClosed)
    def _case_closed(self, event: Case.CaseClosed, row: dict[str, Any]) -> None:
        row["closed_at"] = utc_text(event.timestamp)
        row["outcome"] = event.outcome
        self.monthly[(*_where(row), jakarta_month(event.timestamp))][1] += 1

    @_change.register(Case.CaseReopened)
    def _case_reopened(self, event: Case.CaseReopened, row: dict[str, Any]) -> None:
        row["closed_at"] = None
        row["outcome"] = None

    @staticmethod
    def _set_follow_ups(row: dict[str, Any], open_follow_ups: dict[str, str]) -> None:
        row["open_follow_ups"] = json.dumps(open_follow_ups, sort_keys=True)
        row["next_follow_up_due"] = min(open_follow_ups.values()) if open_follow_ups else None

    def flush(self) -> None:
        c, p = self.conn, self.p
        rows = [tuple(row[col] for col in CASE_COLUMNS) for row in self.rows.values() if row is not None]
        updates = ", ".join(f"{col} = excluded.{col}" for col in CASE_COLUMNS[1:])
        c.executemany(
            f"INSERT INTO {p}_cases ({', '.join(CASE_COLUMNS)}) VALUES ({', '.join('?' * len(CASE_COLUMNS))}) "
            f"ON CONFLICT (case_id) DO UPDATE SET {updates}", rows)
        c.executemany(
            f"INSERT INTO {p}_follow_ups (case_id, follow_up_id, pillar, due_on, purpose, open) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (case_id, follow_up_id) DO UPDATE SET "
            "pillar = excluded.pillar, open = excluded.open",
            [(k[0], k[1], f["pillar"], f["due_on"], f["purpose"], f["open"]) for k, f in self.follow_ups.items()])
        c.executemany(f"UPDATE {p}_follow_ups SET pillar = ? WHERE case_id = ?", self.pillar_moves)
        c.executemany(
            f"INSERT INTO {p}_open_counts (pillar, kecamatan, dimension, key, count) VALUES (?, ?, ?, ?, ?) "
            f"ON CONFLICT (pillar, kecamatan, dimension, key) DO UPDATE SET count = {p}_open_counts.count + excluded.count",
            [(*k, v) for k, v in self.open_counts.items() if v])
        c.execute(f"DELETE FROM {p}_open_counts WHERE count = 0")
        c.executemany(
            f"INSERT INTO {p}_monthly (pillar, kecamatan, month, opened, closed) VALUES (?, ?, ?, ?, ?) "
            f"ON CONFLICT (pillar, kecamatan, month) DO UPDATE SET opened = {p}_monthly.opened + excluded.opened, "
            f"closed = {p}_monthly.closed + excluded.closed",
            [(*k, *v) for k, v in self.monthly.items()])
        c.executemany(
            f"INSERT INTO {p}_aid (pillar, kecamatan, component, item, count, quantity, value_idr) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) "
            f"ON CONFLICT (pillar, kecamatan, component, item) DO UPDATE SET count = {p}_aid.count + excluded.count, "
            f"quantity = {p}_aid.quantity + excluded.quantity, value_idr = {p}_aid.value_idr + excluded.value_idr",
            [(*k, *v) for k, v in self.aid.items()])
        c.executemany(
            f"INSERT INTO {p}_assessment_days (pillar, kecamatan, days, count) VALUES (?, ?, ?, ?) "
            f"ON CONFLICT (pillar, kecamatan, days) DO UPDATE SET count = {p}_assessment_days.count + excluded.count",
            [(*k, v) for k, v in self.assessment_days.items()])
        self.privacy.flush()


def _status(row: dict[str, Any]) -> str:
    return derive_status(closed=row["closed_at"] is not None, aided=bool(row["aid_count"]),
                         assessed=row["assessed_at"] is not None)


def _where(row: dict[str, Any]) -> tuple[str, str]:
    """(pillar, kecamatan): what every counter of the case is kept under."""
    return row["pillar"], row["kecamatan_code"]


def _open_dimensions(row: dict[str, Any] | None) -> set[tuple[str, str, str, str]]:
    if row is None or row["status"] == "closed":
        return set()
    where = _where(row)
    return {(*where, "status", row["status"]), (*where, "worker", row["worker"] or "")}
