"""Security events of an HTTP request (pilar/cases/security_log.py), with the request's client address
and path. Rate limiting logs its hits through `security_event` too."""

import logging

from flask import g, request

from pilar.cases.security_log import security_event as _log


def client_address() -> str | None:
    """The client's address: werkzeug's ProxyFix (pilar/wsgi.py) has put the forwarded one here when
    PILAR_TRUSTED_PROXIES says a proxy is trusted; otherwise the peer's own."""
    return request.remote_addr


def security_event(event: str, user: str | None = None, *, level: int = logging.WARNING, **details: object) -> None:
    if user is None and (actor := g.get("actor")) is not None:
        user = actor.username
    _log(event, user=user, client=client_address(), path=request.path, level=level, **details)
