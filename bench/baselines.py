"""Baselines served by the same gunicorn configuration as Pilar, so ratios compare like with like.

(a) `hello`: a hello-world Flask JSON endpoint.
(b) `thin`: the thinnest endpoint doing a write's store work: load a case, append one
    FollowUpScheduled, save; no validation, authentication, idempotency or logging.
Both build their state per worker after the fork, like pilar/wsgi.py."""

from datetime import date, timedelta
from uuid import UUID

from flask import Flask, jsonify

from pilar.wsgi import PerProcessApp


def _hello() -> Flask:
    app = Flask("hello")

    @app.get("/hello")
    def hello():
        return jsonify(message="hello")

    return app


def _thin() -> Flask:
    from pilar.bootstrap import bootstrap

    service = bootstrap().cases
    app = Flask("thin")
    due = date.today() + timedelta(days=30)

    @app.post("/thin/<case_id>")
    def thin(case_id: str):
        case = service.repository.get(UUID(case_id))
        case.schedule_follow_up(actor="bench", due_on=due, purpose="bench")
        service.save(case)
        return jsonify(version=case.version)

    return app


hello = PerProcessApp(_hello)
thin = PerProcessApp(_thin)
