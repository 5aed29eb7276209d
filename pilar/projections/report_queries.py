"""The supervisors' dashboards and the rakor (coordination meeting) report, read from view rows:
months, aid by the day it was given, referrals between pillars, and who is served by more than
one pillar. Every query takes the pillars and kecamatan the reader's scope allows (None: all)."""

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any

from pilar.cases.clock import JAKARTA, utc_text
from pilar.projections.schema import LIVE
from pilar.store.connection import Readers

Scope = tuple[str, ...] | None


def _among(column: str, values: Scope) -> tuple[str, list[str]]:
    if values is None:
        return "", []
    return f" AND {column} IN ({', '.join('?' * len(values))})", list(values)


def day_start(day: date) -> str:
    """The first moment of a day in Asia/Jakarta, as the views' UTC text."""
    return utc_text(datetime.combine(day, time(), JAKARTA))


class ReportQueries:
    def __init__(self, readers: Readers, prefix: str = LIVE):
        self.readers = readers
        self.p = prefix

    def monthly(self, pillars: Scope, kecamatan: Scope, first: str, last: str) -> dict[str, tuple[int, int]]:
        """month → (cases opened, cases closed), for months `first`..`last` ("2026-01")."""
        among, params = _among("pillar", pillars)
        only, more = _among("kecamatan", kecamatan)
        with self.readers.connection() as conn:
            rows = conn.all(f"SELECT month, SUM(opened), SUM(closed) FROM {self.p}_monthly "
                            f"WHERE month >= ? AND month <= ?{among}{only} GROUP BY month", [first, last, *params, *more])
        return {month: (int(opened), int(closed)) for month, opened, closed in rows}

    def aid(self, by: str, pillars: Scope, kecamatan: Scope, start: date, end: date) -> dict[str, tuple[int, int]]:
        """`by` ("component" or "pillar") → (aid entries, rupiah), for aid given from `start` to `end`."""
        assert by in ("component", "pillar")
        among, params = _among("pillar", pillars)
        only, more = _among("kecamatan", kecamatan)
        with self.readers.connection() as conn:
            rows = conn.all(f"SELECT {by}, SUM(count), SUM(value_idr) FROM {self.p}_aid_days "
                            f"WHERE given_on >= ? AND given_on <= ?{among}{only} GROUP BY {by}",
                            [start.isoformat(), end.isoformat(), *params, *more])
        return {key: (int(count), int(value)) for key, count, value in rows}

    def pending_referrals(self, pillars: Scope, kecamatan: Scope) -> list[tuple[str, str, str]]:
        """(from pillar, to pillar, sent at) of every referral still waiting for an answer that
        one of `pillars` sent or was sent."""
        involved, params = self._involved(pillars)
        only, more = _among("kecamatan_code", kecamatan)
        with self.readers.connection() as conn:
            rows = conn.all(f"SELECT from_pillar, to_pillar, sent_at FROM {self.p}_referrals "
                            f"WHERE status = 'pending'{involved}{only}", [*params, *more])
        return [(a, b, at) for a, b, at in rows]

    def referral_outcomes(self, pillars: Scope, kecamatan: Scope, start: date,
                          end: date) -> dict[tuple[str, str], dict[str, int]]:
        """(from pillar, to pillar) → {status: referrals} of the referrals sent from `start` to `end`."""
        involved, params = self._involved(pillars)
        only, more = _among("kecamatan_code", kecamatan)
        with self.readers.connection() as conn:
            rows = conn.all(f"SELECT from_pillar, to_pillar, status, COUNT(*) FROM {self.p}_referrals "
                            f"WHERE sent_on >= ? AND sent_on <= ?{involved}{only} "
                            "GROUP BY from_pillar, to_pillar, status",
                            [start.isoformat(), end.isoformat(), *params, *more])
        found: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
        for sender, receiver, status, count in rows:
            found[(sender, receiver)][status] = int(count)
        return dict(found)

    def served(self, pillars: Scope, kecamatan: Scope, start: date, end: date) -> dict[str, set[str]]:
        """The people served by more than one pillar from `start` to `end` (one of them in
        `pillars`) → those pillars. A pillar serves a person while it holds a case of theirs:
        the case's pillar now, from its opening (or the referral it accepted) until its closure,
        and a pillar that passed it on by a referral, until the referral was accepted."""
        since, until = day_start(start), day_start(end + timedelta(days=1))
        only, more = _among("c.kecamatan_code", kecamatan)
        with self.readers.connection() as conn:
            rows = conn.all(
                f"SELECT c.beneficiary_id, c.pillar FROM {self.p}_cases c WHERE c.opened_at < ? "
                f"AND (c.closed_at IS NULL OR c.closed_at >= ?){only} "
                f"UNION SELECT c.beneficiary_id, r.from_pillar FROM {self.p}_referrals r "
                f"JOIN {self.p}_cases c ON c.case_id = r.case_id WHERE r.status = 'accepted' "
                f"AND c.opened_at < ? AND r.answered_at >= ?{only}",
                [until, since, *more, until, since, *more])
        by_person: dict[str, set[str]] = defaultdict(set)
        for person, pillar in rows:
            by_person[person].add(pillar)
        return {person: found for person, found in by_person.items()
                if len(found) > 1 and (pillars is None or found & set(pillars))}

    @staticmethod
    def _involved(pillars: Scope) -> tuple[str, list[Any]]:
        if pillars is None:
            return "", []
        marks = ", ".join("?" * len(pillars))
        return f" AND (from_pillar IN ({marks}) OR to_pillar IN ({marks}))", [*pillars, *pillars]
