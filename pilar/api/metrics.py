"""Prometheus metrics: request counts and latencies per route, and the store's and views'
positions. Under gunicorn every worker writes to PROMETHEUS_MULTIPROC_DIR (set up by
pilar/gunicorn_conf.py) and a scrape of any worker sums them all."""

import os
import time

from flask import Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from pilar.api.readiness import readiness

REQUESTS = Counter("pilar_http_requests_total", "HTTP requests answered", ["method", "route", "status"])
LATENCY = Histogram("pilar_http_request_duration_seconds", "Time to answer a request", ["method", "route"],
                    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))


# Counted where they happen (pilar/api/writes.py, pilar/api/errors.py, pilar/api/limits.py); labels bounded.
IDEMPOTENT_REPLAYS = Counter("pilar_idempotent_replays_total",
                             "Writes answered from their Idempotency-Key's first answer, appending nothing")
CONFLICTS = Counter("pilar_write_conflicts_total", "Writes refused because another writer got there first",
                    ["kind"])  # stale_version (412), concurrent_writes (503 after the re-decisions)
RATE_LIMITED = Counter("pilar_rate_limited_total", "Requests refused by a rate limit (429)", ["limit"])
COUNTERS = (REQUESTS, LATENCY, IDEMPOTENT_REPLAYS, CONFLICTS, RATE_LIMITED)


class StoreCollector:
    """Read at scrape time, so a stalled projection shows as growing lag."""

    def __init__(self, app: Flask):
        self.app = app

    def collect(self):
        fresh = self.app.extensions["pilar"].views.freshness_now()
        yield GaugeMetricFamily("pilar_store_position", "Global position of the newest stored event",
                                value=fresh.head)
        yield GaugeMetricFamily("pilar_views_position", "Position the workload views have reached",
                                value=fresh.position)
        yield GaugeMetricFamily("pilar_views_lag_events", "Events stored but not yet in the views",
                                value=max(fresh.head - fresh.position, 0))
        owing = readiness(self.app).owed()
        yield GaugeMetricFamily("pilar_erasure_cleanup_owed_seconds", "Seconds since the oldest erasure whose rows "
                                "are still in the database files (0: none)",
                                value=max((time.time() - o.since for o in owing), default=0))
        beat = readiness(self.app).beat()
        if beat is None:
            return
        yield CounterMetricFamily("pilar_projector_restarts", "Times a projection process took the lead after "
                                  "the first (crash-loops and failovers)", value=beat.restarts)
        yield GaugeMetricFamily("pilar_projector_stuck_position", "Position of the event the projection process "
                                "cannot pass (0: none)", value=beat.error_position or 0)
        yield GaugeMetricFamily("pilar_projector_heartbeat_age_seconds", "Seconds since the leading projection "
                                "process last reported", value=max(time.time() - beat.beat_at, 0))


# Labels are bounded and hold no input: the route's template (never the raw path, which may
# hold ids or a mistyped NIK), a known method, the status.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def init_metrics(app: Flask) -> None:
    @app.before_request
    def start_timer() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    def count(response: Response) -> Response:
        route = request.url_rule.rule if request.url_rule else "unmatched"
        method = request.method if request.method in _METHODS else "other"
        observe(method, route, response.status_code, g.get("request_started"))
        return response


def observe(method: str, route: str, status: int, started: float | None) -> None:
    """One answered request: `method` one of _METHODS (or "other"), `route` a URL rule."""
    series = _series.get((method, route, status))
    if series is None:  # labels() validates and locks on every call: once per series here
        series = _series[method, route, status] = (LATENCY.labels(method, route), REQUESTS.labels(method, route, str(status)))
    if started is not None:
        series[0].observe(time.perf_counter() - started)
    series[1].inc()


_series: dict[tuple[str, str, int], tuple] = {}  # bounded as the labels are


def metrics_response() -> Response:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        for collector in COUNTERS:
            registry.register(collector)
    registry.register(StoreCollector(current_app))
    return Response(generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

