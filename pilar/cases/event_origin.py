"""Where a write came from besides its actor: the bulk import (pilar/api/bulk/) that made it. Set for the
length of one imported row's writes; the mapper (pilar/cases/personal_data.py) then stores the import's
id as `import_id` beside the fields of every event those writes append, under the event's MAC, so a
case's or a person's history shows which import wrote it. Event classes stay as they are: the field
is read back as a plain attribute, which no aggregate's `apply` or `__init__` asks for."""

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

FIELD = "import_id"

_current: ContextVar[str | None] = ContextVar("pilar_event_origin", default=None)


def current() -> str | None:
    return _current.get()


@contextlib.contextmanager
def imported_by(import_id: str) -> Iterator[None]:
    token = _current.set(import_id)
    try:
        yield
    finally:
        _current.reset(token)
