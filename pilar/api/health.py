"""Liveness and readiness for load balancers and process supervisors."""

from flask import current_app
from flask.views import MethodView

from pilar.api.blueprint import Blueprint
from pilar.api.metrics import metrics_response
from pilar.api.readiness import RETRY_AFTER, readiness

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
    @blp.alt_response(503, description="Not ready: `failing` names each failing check, `checks` says what is wrong")
    def get(self):
        """Ready to serve: the store answers (`store`), the local disks take writes (`disk`), a
        projection process leads and moves (`projection`), and the views trail the store by less
        than PILAR_READY_MAX_LAG seconds (`lag`). `position` is the newest event's global position,
        `views` the projection's position and lag in events and seconds"""
        ready, body = readiness(current_app).report()
        if ready:
            return body
        return body, 503, {"Retry-After": RETRY_AFTER}


@blp.route("/metrics")
class Metrics(MethodView):
    @blp.response(200, content_type="text/plain")
    def get(self):
        """Prometheus metrics (no personal data: counts, latencies, positions)"""
        return metrics_response()
