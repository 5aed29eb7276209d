"""What a worker answers while it cannot build its application because the store is not reachable
(PostgreSQL down or refusing connections at start): `/healthz` 200 (the process is up), `/readyz`
503 naming the store, everything else the API's 503 problem with Retry-After. The worker keeps
trying to build the application in the background (wsgi.PerProcessApp) and serves it once built."""

import json

from werkzeug.wrappers import Response

from pilar.api.errors import PHRASES

RETRY_AFTER = "2"
HEADERS = {"Retry-After": RETRY_AFTER, "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def unavailable_app(reason: str):
    """A WSGI app for a worker whose store did not answer; `reason` names the error's kind only."""

    def app(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            body, status = {"status": "ok"}, 200
        elif path == "/readyz":
            body, status = {"status": "not ready", "failing": ["store"], "checks": {"store": {
                "ok": False, "message": f"the event store is not reachable ({reason}); retrying"}}}, 503
        else:
            body, status = {"code": 503, "status": PHRASES[503],
                            "message": "The event store is not reachable; retry shortly."}, 503
        headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"} if status == 200 else HEADERS
        response = Response(json.dumps(body), status=status, headers=headers, mimetype="application/json")
        return response(environ, start_response)

    return app
