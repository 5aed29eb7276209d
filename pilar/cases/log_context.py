"""What every log line of a request carries besides its message: the request id, the user and the
route (the URL rule, never the raw path), kept per request in a context variable so that any
logger, in any layer, writes them without being handed them (pilar/log_format.py reads them)."""

import re
import uuid
from contextvars import ContextVar

# A UUID is kept whole; any other run of six or more digits (separators allowed) may be a NIK, a KK
# or a phone number, and is masked wherever a path or an id from a client reaches a log.
_IDENT_OR_NUMBER = re.compile(r"([0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12})|\+?\d(?:[ .-]?\d){5,}")
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")

current: ContextVar[dict | None] = ContextVar("pilar_log_context", default=None)


def mask_numbers(text: str) -> str:
    return _IDENT_OR_NUMBER.sub(lambda m: m.group(1) or "***", text)


def request_id(offered: str | None) -> str:
    """The client's X-Request-ID when it is well-formed (1 to 64 letters, digits and `._:-`, and
    no long run of digits that could be a NIK or a phone number), else a new random one."""
    if offered and _SAFE_ID.match(offered) and mask_numbers(offered) == offered:
        return offered
    return uuid.uuid4().hex


def fields() -> dict:
    """The current request's fields (empty outside a request)."""
    return current.get() or {}


def note(**values: str | None) -> None:
    """Adds the user or the route to the current request's fields, once they are known."""
    context = current.get()
    if context is not None:
        context.update(values)
