"""Security events, one line each on the logger `pilar.security`: failed sign-ins, refused and
signed-out tokens, 403s, rate-limit hits, sign-outs and every change to a user account.

    event=sign_in_failed user="wati" client=203.0.113.7 path=/api/v1/auth/token

`event` first, then `user` (whom the request was for or claimed to be, only when it names an
account: a sign-in with a name that is no account's is `sign_in_unknown_user` with `user=-`, since
the name typed may be a password; never a password or a token), `client` (the client's address as werkzeug's ProxyFix resolved it with
PILAR_TRUSTED_PROXIES; `local` for the CLI), `path` (runs of six or more digits masked), then any details. A value is quoted when it
holds a space, a quote, `=` or a control character, so a line cannot be split or forged by input."""

import json
import logging
import re

from pilar.cases.log_context import mask_numbers

log = logging.getLogger("pilar.security")
_PLAIN = re.compile(r"^[\w.:/@\-\[\],]*$")


def security_event(event: str, *, user: str | None, client: str | None, path: str | None,
                   level: int = logging.WARNING, **details: object) -> None:
    fields = {"event": event, "user": user, "client": client, "path": path and mask_numbers(path), **details}
    # The line's text, and its fields for a JSON log line (pilar/log_format.py).
    log.log(level, " ".join(f"{name}={_value(value)}" for name, value in fields.items()),
            extra={"pilar_fields": {name: None if value is None else str(value)[:200] for name, value in fields.items()}})


def init_security_log() -> None:
    """Security events reach the server's standard error even where nothing configured logging
    (gunicorn configures only its own loggers): INFO and above, one line each. A logging
    configuration of the operator's (a handler on the root logger or on `pilar.security`) wins."""
    if log.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s [%(process)d] [%(name)s] %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)


def _value(value: object) -> str:
    if value is None:
        return "-"
    text = str(value)[:200]
    return text if text and _PLAIN.match(text) else json.dumps(text, ensure_ascii=True)
