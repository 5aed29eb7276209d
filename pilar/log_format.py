"""One log format for every process: gunicorn's access and error logs (pilar/gunicorn_conf.py), the app
in each worker (pilar/wsgi.py) and the `pilar` commands, `pilar project` included (pilar/cli.py).

PILAR_LOG_FORMAT=json (the default) writes one JSON object a line:

    {"ts": "2026-12-04T14:50:01.123Z", "level": "WARNING", "logger": "pilar.security",
     "message": "...", "request_id": "9f0c...", "user": "wati", "route": "/api/v1/cases/<uuid:case_id>",
     "pid": 4242, "event": "forbidden", ...}

`request_id`, `user` and `route` (the URL rule, never the raw path) are those of the request the
line was written for (pilar/cases/log_context.py), `null` outside one; a line with fields of its own
(a security event, an access line) adds them, with `path` (digits masked) only where no route
matched. `text` writes the same as plain lines, for a person
reading a terminal (`make run`)."""

import json
import logging
import sys
import time

from pilar.cases import log_context

FORMATS = ("json", "text")
_REQUEST_FIELDS = ("request_id", "user", "route")


def chosen(value: str | None) -> str:
    """PILAR_LOG_FORMAT's value: json (also when unset) or text; anything else stops the start."""
    value = (value or "json").strip().lower()
    if value not in FORMATS:
        raise ValueError(f"PILAR_LOG_FORMAT must be json or text, not {value!r}")
    return value


def _request_fields(record: logging.LogRecord) -> dict:
    context = getattr(record, "pilar_context", None) or log_context.fields()
    return {name: context.get(name) for name in _REQUEST_FIELDS}


# Every access line is formatted here, so what each line costs is a cost of every request.
_encode = json.JSONEncoder(ensure_ascii=True, default=str).encode
_second: tuple[int, str] = (0, "1970-01-01T00:00:00")  # the last whole second formatted


def _timestamp(created: float) -> str:
    """ISO 8601 in UTC to the millisecond; the date and time of day are formatted once a second."""
    global _second
    whole = int(created)
    if _second[0] != whole:
        _second = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
    return f"{_second[1]}.{int((created - whole) * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        own = getattr(record, "pilar_fields", None) or {}
        context = getattr(record, "pilar_context", None) or log_context.fields()
        route = context.get("route")
        line = {
            "ts": _timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            # A security event's text repeats its fields, path included: its name says it.
            "message": own.get("event") or record.getMessage(),
            "request_id": context.get("request_id"), "user": context.get("user"), "route": route,
            "pid": record.process,
        }
        for name, value in own.items():
            # The route says what the path says, without ids.
            if (value is not None or name not in line) and not (route and name == "path"):
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return _encode(line)


class TextFormatter(logging.Formatter):
    def __init__(self):
        super().__init__("%(asctime)s [%(process)d] [%(name)s] %(levelname)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        request = _request_fields(record)
        if request["request_id"]:
            text += "".join(f" {name}={value}" for name, value in request.items() if value)
        return text


def formatter(fmt: str) -> logging.Formatter:
    return JsonFormatter() if chosen(fmt) == "json" else TextFormatter()


def configure(fmt: str) -> None:
    """Every logger of this process writes to standard error in `fmt`, INFO and above, unless a
    logging configuration of the operator's (a handler on the root logger) is in place already."""
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(fmt))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
