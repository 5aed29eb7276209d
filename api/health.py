"""Liveness and readiness for load balancers and process supervisors."""

from flask.views import MethodView
from flask_smorest import Blueprint

from api.writes import service

blp = Blueprint("health", __name__, description="Liveness and readiness")


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
        """The store is reachable; `position` is the newest event's global position"""
        return {"status": "ready", "position": service().recorder.max_notification_id() or 0}
