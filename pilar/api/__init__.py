"""The JSON API under /api/v1: one blueprint per resource, each with bearer authentication and
JSON errors of its own (pilar/api/blueprint.py), and the OpenAPI document with offline docs, put
on an app by init_api (pilar/api/app.py). Nothing is imported here: `pilar` commands that use a
part of the API (pilar/api/bulk/) start without loading every blueprint."""

API_PREFIX = "/api/"
JSON_PATHS = (API_PREFIX, "/healthz", "/readyz", "/metrics")


def is_api_request(path: str) -> bool:
    """Requests the API answers, errors included, in JSON; the rest of the app is pages."""
    return path.startswith(JSON_PATHS)
