"""Liveness and readiness for load balancers and process supervisors."""

from flask.views import MethodView

from api.blueprint import Blueprint, services
from api.metrics import metrics_response

blp = Blueprint("health", __name__, description="Liveness and readiness", bearer=False)


@blp.route("/healthz")
class Healthz(MethodView):
    @blp.response(200)
    def get(self):
        """The process is up"""
        return {"status": "ok"}


@blp.route("/readyz")
class Readyz(MethodView):
    @blp.response(200)
    @blp.alt_response(503, description="The event store is not reachable")
    def get(self):
        """The store is reachable; `position` is the newest event's global position, `views` the
        projection's position and lag (events stored but not yet projected)"""
        fresh = services().views.freshness()
        return {"status": "ready", "position": fresh.head, "views": fresh.as_dict()}


@blp.route("/metrics")
class Metrics(MethodView):
    @blp.response(200, content_type="text/plain")
    def get(self):
        """Prometheus metrics (no personal data: counts, latencies, positions)"""
        return metrics_response()
