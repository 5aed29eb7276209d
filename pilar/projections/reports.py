"""The read service behind the supervisors' dashboard and the rakor report: scope asked of
pilar/cases/policy.py (a pillar or kecamatan named outside it is refused, never quietly widened), the
workload numbers from the workload service (the API's /workloads answer), the rest from
pilar/projections/report_queries.py."""

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from pilar.cases import clock, policy, vocab
from pilar.cases.access import Actor
from pilar.cases.application import PilarApplication
from pilar.cases.errors import NotFound
from pilar.projections.report_queries import ReportQueries
from pilar.projections.service import WorkloadService

MONTHS = 12
WAIT_BUCKETS = ((0, 2), (3, 7), (8, 14), (15, 30), (31, None))  # days a pending referral has waited


@dataclass(frozen=True)
class Scope:
    pillars: tuple[str, ...]
    kecamatan: tuple[str, ...] | None  # None: every kecamatan
    every_pillar: bool  # the reader chose no one pillar


def last_months(today: date, count: int = MONTHS) -> list[str]:
    """The `count` months up to today's, oldest first ("2026-01")."""
    year, month = today.year, today.month
    found = []
    for _ in range(count):
        found.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return found[::-1]


class ReportService:
    def __init__(self, views: WorkloadService, queries: ReportQueries, people: PilarApplication):
        self.views = views
        self.queries = queries
        self.people = people

    def scope(self, actor: Actor, pillar: str | None, kecamatan: str | None) -> Scope:
        policy.require(policy.read_reports(actor))
        visible = policy.visible_pillars(actor)
        if pillar is not None:
            if pillar not in vocab.PILLARS:
                raise NotFound("pillar", pillar)
            policy.require(policy.read_pillar(actor, pillar))
        if kecamatan is not None:
            policy.require(policy.read_kecamatan(actor, kecamatan))
        return Scope((pillar,) if pillar else visible,
                     (kecamatan,) if kecamatan else policy.visible_kecamatan(actor), pillar is None)

    def dashboard(self, actor: Actor, pillar: str | None, kecamatan: str | None, start: date,
                  end: date) -> dict[str, Any]:
        scope = self.scope(actor, pillar, kecamatan)
        fresh = self.views.freshness()
        workload = self.views.combined(scope.pillars, scope.kecamatan, fresh)
        today = clock.today_in_jakarta()
        months = last_months(today)
        monthly = self.queries.monthly(scope.pillars, scope.kecamatan, months[0], months[-1])
        pending = self.queries.pending_referrals(scope.pillars, scope.kecamatan)
        waits = [(clock.now_utc() - clock.parse_utc(at)).days for _, _, at in pending]
        return {
            **fresh.as_dict(), "scope": scope, "today": today,
            "open_by_status": workload["open_by_status"],
            "open_by_kecamatan": workload["open_by_kecamatan"],
            "open_cases": workload["open_cases"],
            "overdue_follow_ups": workload["overdue_follow_ups"],
            "median_days_to_assessment": workload["median_days_referral_to_assessment"],
            "monthly": [(month, *monthly.get(month, (0, 0))) for month in months],
            "aid_by_component": sorted(self.queries.aid("component", scope.pillars, scope.kecamatan, start,
                                                        end).items()),
            "pending_referrals": _pending_by_route(pending, waits),
            "pending_waits": [(low, high, sum(1 for w in waits if w >= low and (high is None or w <= high)))
                              for low, high in WAIT_BUCKETS],
        }

    def rakor(self, actor: Actor, kecamatan: str | None, start: date, end: date) -> dict[str, Any]:
        """For a coordination meeting: the people served by more than one pillar (their names
        only for a reader of personal data, each read logged), referrals between pillars and
        their outcome, and aid per pillar, over `start`..`end` in the reader's scope."""
        scope = self.scope(actor, None, kecamatan)
        fresh = self.views.freshness()
        served = self.queries.served(scope.pillars, scope.kecamatan, start, end)
        combinations: dict[tuple[str, ...], int] = {}
        for pillars in served.values():
            key = tuple(p for p in vocab.PILLARS if p in pillars)
            combinations[key] = combinations.get(key, 0) + 1
        people = []
        if served and policy.names_in_lists(actor):
            names = self.people.names_of(actor, [UUID(b) for b in served], "rakor_report")
            people = sorted(((names.get(UUID(b)), tuple(p for p in vocab.PILLARS if p in found))
                             for b, found in served.items()), key=lambda item: (item[0] is None, item[0] or ""))
        outcomes = self.queries.referral_outcomes(scope.pillars, scope.kecamatan, start, end)
        aid = self.queries.aid("pillar", scope.pillars, scope.kecamatan, start, end)
        return {
            **fresh.as_dict(), "scope": scope,
            "served_count": len(served),
            "served_by": sorted(combinations.items(), key=lambda item: (-item[1], item[0])),
            "people": people, "names_shown": policy.names_in_lists(actor),
            "referrals": [(sender, receiver, found.get("accepted", 0), found.get("declined", 0),
                           found.get("pending", 0)) for (sender, receiver), found in sorted(
                               outcomes.items(), key=lambda item: (_rank(item[0][0]), _rank(item[0][1])))],
            "aid_by_pillar": [(p, *aid.get(p, (0, 0))) for p in scope.pillars],
        }


def _rank(pillar: str) -> int:
    return vocab.PILLARS.index(pillar) if pillar in vocab.PILLARS else len(vocab.PILLARS)


def _pending_by_route(pending: list[tuple[str, str, str]], waits: list[int]) -> list[tuple[str, str, int, int]]:
    """(from, to, pending referrals, longest wait in days), in the pillars' order."""
    routes: dict[tuple[str, str], list[int]] = {}
    for (sender, receiver, _), wait in zip(pending, waits):
        routes.setdefault((sender, receiver), []).append(wait)
    return [(sender, receiver, len(found), max(found)) for (sender, receiver), found in
            sorted(routes.items(), key=lambda item: (_rank(item[0][0]), _rank(item[0][1])))]


def default_period(today: date) -> tuple[date, date]:
    """This month so far."""
    return today.replace(day=1), today


MAX_PERIOD = timedelta(days=366 * 2)
