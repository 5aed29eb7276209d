"""The read side for the API: every answer comes from view rows, never from event streams.
"Overdue" is judged here, at query time, against today in Asia/Jakarta."""

from dataclasses import dataclass
from datetime import date
from typing import Any

from pilar.cases import vocab
from pilar.cases.clock import is_overdue
from pilar.projections.schema import CASE_LIST_COLUMNS, LIVE, PRIVACY_COLUMNS
from pilar.store.connection import Readers
from pilar.projections.workload import TRACKING_NAME

# `cases.clock.is_overdue` in SQL, with one parameter: today as ISO text. The IS NOT NULL keeps it true or
# false, never NULL, so that NOT of it selects exactly the cases that are not overdue.
OVERDUE_SQL = "(status <> 'closed' AND next_follow_up_due IS NOT NULL AND next_follow_up_due < ?)"

# `cases.desil.is_stale` in SQL, with one parameter: the oldest period that is not stale.
STALE_DESIL_SQL = "(desil_period IS NOT NULL AND desil_period < ?)"

# A privacy request still open past its deadline (one parameter: now, as cases.clock.utc_text).
OVERDUE_REQUEST_SQL = "(r.status = 'open' AND r.deadline < ?)"


@dataclass(frozen=True)
class CaseFilter:
    pillars: tuple[str, ...] | None = None  # None: every pillar
    # The reader's scope (pilar/cases/policy.py), set by the read service: the cases their pillars hold
    # or are asked to take by a pending referral, in their kecamatan. None: no limit.
    scope_pillars: tuple[str, ...] | None = None
    scope_kecamatan: tuple[str, ...] | None = None
    status: str | None = None
    kecamatan: str | None = None
    desa: str | None = None
    worker: str | None = None
    overdue: bool | None = None
    beneficiary_id: str | None = None
    pending_referral_to: str | None = None
    # True: cases whose person's desil is older than `desil_fresh_from` (pilar/cases/desil.py); False: the others.
    desil_stale: bool | None = None
    desil_fresh_from: str | None = None  # the oldest period not stale, set by the read service


class WorkloadQueries:
    def __init__(self, readers: Readers, prefix: str = LIVE, head_sql: str | None = None):
        self.readers = readers
        self.p = prefix
        self.head_sql = head_sql  # the newest event's position, e.g. "SELECT MAX(rowid) FROM stored_events"

    def position(self) -> int:
        with self.readers.connection() as conn:
            row = conn.one(f"SELECT position FROM {self.p}_tracking WHERE name = ?", (TRACKING_NAME,))
        return int(row[0]) if row else 0

    def positions(self) -> tuple[int, int, str | None]:
        """(the views' position, the store's newest position, when the views' tracking row was
        written: a rebuild's swap changes it, if not the position) in one round trip."""
        tracking = f"FROM {self.p}_tracking WHERE name = ?"
        with self.readers.connection() as conn:
            row = conn.one(f"SELECT (SELECT position {tracking}), ({self.head_sql}), (SELECT updated_at {tracking})",
                           (TRACKING_NAME, TRACKING_NAME))
        return int(row[0] or 0), int(row[1] or 0), row[2]

    def detail(self, pillar: str | tuple[str, ...], today: date, *, brief: bool = False,
               kecamatan: tuple[str, ...] | None = None) -> dict[str, Any]:
        """A pillar's workload (or several pillars' together, `pillar` a tuple of them): over every
        kecamatan, or only `kecamatan` (a scoped reader's)."""
        month = today.strftime("%Y-%m")
        pillars = (pillar,) if isinstance(pillar, str) else pillar
        among, among_params = _among("pillar", pillars)
        only, only_params = _among("kecamatan", kecamatan)
        only_params = [*among_params, *only_params]
        only = among + only
        cases_only, _ = _among("kecamatan_code", kecamatan)
        cases_only = among + cases_only
        with self.readers.connection() as conn:
            counts = conn.all(f"SELECT dimension, key, kecamatan, count FROM {self.p}_open_counts "
                              f"WHERE 1 = 1{only}", only_params)
            by: dict[str, dict[str, int]] = {"status": {}, "kecamatan": {}, "worker": {}, "desil": {}}
            for dimension, key, where, count in counts:
                by[dimension][key] = by[dimension].get(key, 0) + int(count)
                if dimension == "status":
                    by["kecamatan"][where] = by["kecamatan"].get(where, 0) + int(count)
            overdue = conn.one(f"SELECT COUNT(*) FROM {self.p}_cases WHERE 1 = 1{cases_only} AND {OVERDUE_SQL}",
                               (*only_params, today.isoformat()))[0]
            monthly = conn.one(f"SELECT SUM(opened), SUM(closed) FROM {self.p}_monthly WHERE month = ?"
                               f"{only}", (month, *only_params))
            days = conn.all(f"SELECT days, SUM(count) FROM {self.p}_assessment_days WHERE 1 = 1{only} "
                            "GROUP BY days ORDER BY days", only_params)
            aid = conn.all(
                f"SELECT component, item, SUM(count), SUM(quantity), SUM(value_idr) FROM {self.p}_aid "
                f"WHERE 1 = 1{only} GROUP BY component, item ORDER BY component, item", only_params)
        aid_by_component: dict[str, dict[str, int]] = {}
        aid = [(component, item, int(n), int(q), int(v)) for component, item, n, q, v in aid]
        for component, _item, count, _quantity, value in aid:
            totals = aid_by_component.setdefault(component, {"count": 0, "value_idr": 0})
            totals["count"] += int(count)
            totals["value_idr"] += int(value)
        answer: dict[str, Any] = {
            "pillar": pillar,
            "open_cases": sum(by["status"].values()),
            "open_by_status": {s: by["status"].get(s, 0) for s in vocab.CASE_STATUSES if s != "closed"},
            "overdue_follow_ups": int(overdue),
            "opened_this_month": int(monthly[0] or 0) if monthly else 0,
            "closed_this_month": int(monthly[1] or 0) if monthly else 0,
            "median_days_referral_to_assessment": _median([(int(d), int(c)) for d, c in days]),
            "aid_by_component": aid_by_component,
        }
        if not brief:
            answer["open_by_kecamatan"] = dict(sorted(by["kecamatan"].items()))
            answer["open_by_worker"] = {(k or "(unassigned)"): v for k, v in sorted(by["worker"].items())}
            # Every desil 1–10 and `none` (no desil recorded for the person), zeros included.
            answer["open_by_desil"] = {**{str(d): by["desil"].get(str(d), 0) for d in range(1, 11)},
                                       "none": by["desil"].get("", 0)}
            answer["aid_by_item"] = [
                {"component": c, "item": i, "count": int(n), "quantity": int(q), "value_idr": int(v)}
                for c, i, n, q, v in aid
            ]
        return answer

    def cases(self, where: CaseFilter, today: date, page: int, per_page: int) -> tuple[list[dict[str, Any]], int]:
        clauses, params = _case_clauses(where, today)
        parts = [(clauses, params)]
        if where.scope_pillars is not None:
            # The reader's pillars' cases, and the few a pending referral asks of them, as two
            # parts: one OR of the two was served by no index (every match read and sorted).
            marks = ", ".join("?" * len(where.scope_pillars))
            pillars = list(where.scope_pillars)
            parts = [([*clauses, f"pillar IN ({marks})"], [*params, *pillars]),
                     ([*clauses, f"pending_referral_to IN ({marks})", f"pillar NOT IN ({marks})"],
                      [*params, *pillars, *pillars])]
        wheres = [(f"WHERE {' AND '.join(c)}" if c else "", p) for c, p in parts]
        order = "ORDER BY priority_rank, opened_at, case_id"
        offset = (page - 1) * per_page
        columns = ", ".join(CASE_LIST_COLUMNS)
        if len(wheres) == 1:
            page_sql = f"SELECT {columns} FROM {self.p}_cases {wheres[0][0]} {order} LIMIT ? OFFSET ?"
            page_params = [*wheres[0][1], per_page, offset]
        else:  # each part's first offset + per_page in order, merged in order
            merged = " UNION ALL ".join(
                f"SELECT * FROM (SELECT {columns}, priority_rank FROM {self.p}_cases {sql} {order} LIMIT ?) AS part{n}"
                for n, (sql, _) in enumerate(wheres))
            page_sql = f"SELECT {columns} FROM ({merged}) AS parts {order} LIMIT ? OFFSET ?"
            page_params = [*(x for _, p in wheres for x in [*p, offset + per_page]), per_page, offset]
        with self.readers.connection() as conn:
            total = conn.one("SELECT " + " + ".join(f"(SELECT COUNT(*) FROM {self.p}_cases {sql})" for sql, _ in wheres),
                             [x for _, p in wheres for x in p])[0]
            rows = conn.all(page_sql, page_params)
        items = []
        for row in rows:
            item = dict(zip(CASE_LIST_COLUMNS, row))
            item["id"] = item.pop("case_id")
            item["categories"] = item["categories"].split(",") if item["categories"] else []
            item["overdue"] = is_overdue(item["next_follow_up_due"], item["status"] == "closed", today)
            items.append(item)
        return items, int(total)

    def follow_up_queue(self, pillars: tuple[str, ...] | None, today: date, until: date, page: int,
                        per_page: int, kecamatan: tuple[str, ...] | None = None) -> tuple[list[dict[str, Any]], int]:
        clauses = ["f.open = 1", "c.status <> 'closed'", "f.due_on <= ?"]
        params: list[Any] = [until.isoformat()]
        if pillars is not None:
            clauses.append(f"f.pillar IN ({', '.join('?' * len(pillars))})")
            params += list(pillars)
        only, only_params = _among("c.kecamatan_code", kecamatan)
        where = " AND ".join(clauses) + only
        params += only_params
        join = f"FROM {self.p}_follow_ups f JOIN {self.p}_cases c ON c.case_id = f.case_id WHERE {where}"
        with self.readers.connection() as conn:
            total = conn.one(f"SELECT COUNT(*) {join}", params)[0]
            rows = conn.all(
                f"SELECT f.case_id, f.follow_up_id, f.pillar, f.due_on, c.worker, c.kecamatan_code {join} "
                "ORDER BY f.due_on, f.case_id, f.follow_up_id LIMIT ? OFFSET ?",
                [*params, per_page, (page - 1) * per_page])
        keys = ("case_id", "follow_up_id", "pillar", "due_on", "worker", "kecamatan_code")
        items = [dict(zip(keys, row)) | {"overdue": is_overdue(row[3], False, today)} for row in rows]
        return items, int(total)

    def privacy_requests(self, pillars: tuple[str, ...] | None, kecamatan: tuple[str, ...] | None,
                         status: str | None, overdue: bool | None, now: str, page: int,
                         per_page: int) -> tuple[list[dict[str, Any]], int]:
        """Withdrawals and erasure requests: open ones first, the earliest deadline (so the overdue)
        first, then the answered ones, newest first. `pillars`: only people with a case held by
        one of them now, or with no case at all (anyone's, as for changes to a person);
        `kecamatan`: only people who live in one of them or have a case there (None: anywhere)."""
        clauses, params = [], []
        held = f"SELECT 1 FROM {self.p}_cases c WHERE c.beneficiary_id = r.beneficiary_id"
        if pillars is not None:
            clauses.append(f"(NOT EXISTS ({held}) OR EXISTS ({held} AND c.pillar IN ({', '.join('?' * len(pillars))})))")
            params += list(pillars)
        if kecamatan is not None:
            marks = ", ".join("?" * len(kecamatan))
            lives = f"SELECT 1 FROM {self.p}_people h WHERE h.beneficiary_id = r.beneficiary_id"
            clauses.append(f"(EXISTS ({lives} AND h.kecamatan_code IN ({marks})) "
                           f"OR EXISTS ({held} AND c.kecamatan_code IN ({marks})))")
            params += [*kecamatan, *kecamatan]
        if status is not None:
            clauses.append("r.status = ?")
            params.append(status)
        if overdue is not None:
            clauses.append(f"{'' if overdue else 'NOT '}{OVERDUE_REQUEST_SQL}")
            params.append(now)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self.readers.connection() as conn:
            total = conn.one(f"SELECT COUNT(*) FROM {self.p}_privacy_requests r {where}", params)[0]
            rows = conn.all(
                f"SELECT {', '.join(f'r.{c}' for c in PRIVACY_COLUMNS)} FROM {self.p}_privacy_requests r {where} "
                "ORDER BY CASE WHEN r.status = 'open' THEN 0 ELSE 1 END, "
                "CASE WHEN r.status = 'open' THEN r.deadline ELSE '' END, r.deadline DESC, r.request_id "
                "LIMIT ? OFFSET ?", [*params, per_page, (page - 1) * per_page])
        return [dict(zip(PRIVACY_COLUMNS, row)) for row in rows], int(total)


def _case_clauses(where: CaseFilter, today: date) -> tuple[list[str], list[Any]]:
    """The case list's conditions but the reader's pillars (WorkloadQueries.cases)."""
    clauses: list[str] = []
    params: list[Any] = []
    if where.pillars is not None:
        clauses.append(f"pillar IN ({', '.join('?' * len(where.pillars))})")
        params += list(where.pillars)
    if where.scope_kecamatan is not None:
        clauses.append(f"kecamatan_code IN ({', '.join('?' * len(where.scope_kecamatan))})")
        params += list(where.scope_kecamatan)
    for column, value in (("status", where.status), ("kecamatan_code", where.kecamatan),
                          ("desa_code", where.desa), ("worker", where.worker),
                          ("beneficiary_id", where.beneficiary_id),
                          ("pending_referral_to", where.pending_referral_to)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if where.overdue is not None:
        clauses.append(OVERDUE_SQL if where.overdue else f"NOT {OVERDUE_SQL}")
        params.append(today.isoformat())
    if where.desil_stale is not None:
        clauses.append(STALE_DESIL_SQL if where.desil_stale else f"NOT {STALE_DESIL_SQL}")
        params.append(where.desil_fresh_from)
    return clauses, params


def _among(column: str, values: tuple[str, ...] | None) -> tuple[str, list[str]]:
    """' AND column IN (?, …)' and its parameters; nothing for None (every value)."""
    if values is None:
        return "", []
    return f" AND {column} IN ({', '.join('?' * len(values))})", list(values)


def _median(histogram: list[tuple[int, int]]) -> float | None:
    total = sum(count for _, count in histogram)
    if total == 0:
        return None
    low_rank, high_rank = (total - 1) // 2, total // 2
    low = high = None
    seen = 0
    for days, count in histogram:
        if low is None and seen + count > low_rank:
            low = days
        if seen + count > high_rank:
            high = days
            break
        seen += count
    return (low + high) / 2
