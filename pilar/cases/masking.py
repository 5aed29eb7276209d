"""Personal identifiers masked for whoever may not read them in clear (SPEC §1): the one place
that does it. Every answer that carries a person (the person view, search answers, histories,
the event feed and exports) passes through `masked` when pilar/cases/policy.py says *_in_clear is
false, so the plain value never leaves the server.

NIK and KK keep their first 4 and last 2 digits (`3501**********21`: the regency a NIK was
issued in, enough to tell two apart on a list); phone, address and a consent's giver (the
person or their guardian) are hidden (null). Fields are found by name at any depth, so a new
event carrying one (e.g. a correction's `changes.nik`) is masked with no further work."""

from typing import Any

MASKED = frozenset({"nik", "kk"})  # first 4 and last 2 digits kept
HIDDEN = frozenset({"phone", "address", "given_by"})  # null
KEPT_HEAD, KEPT_TAIL = 4, 2


def mask_number(value: str | None) -> str | None:
    """'3501044507510021' -> '3501**********21'; None stays None."""
    if value is None:
        return None
    text = str(value)
    if len(text) <= KEPT_HEAD + KEPT_TAIL:
        return "*" * len(text)
    return text[:KEPT_HEAD] + "*" * (len(text) - KEPT_HEAD - KEPT_TAIL) + text[-KEPT_TAIL:]


def masked(value: Any) -> Any:
    """A copy of `value` (dicts and lists, to any depth) with every identifier masked or hidden."""
    if isinstance(value, dict):
        return {key: _field(key, item) for key, item in value.items()}
    if isinstance(value, list):
        return [masked(item) for item in value]
    return value


def _field(key: Any, value: Any) -> Any:
    if key in MASKED and isinstance(value, str):
        return mask_number(value)
    if key in HIDDEN and value is not None and not isinstance(value, (dict, list)):
        return None
    return masked(value)


def masked_unless(in_clear: bool, value: Any) -> Any:
    return value if in_clear else masked(value)
