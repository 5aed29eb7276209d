"""Stream the event feed as JSON lines or CSV, batch by batch, never holding it all in memory."""

import csv
import json
from collections.abc import Iterator
from datetime import datetime
from typing import IO

from pilar.audit.entries import entry
from pilar.audit.seals import hashes_between
from pilar.cases.application import PilarApplication
from pilar.store.connection import Connection

CSV_COLUMNS = ("position", "stream_id", "stream_type", "version", "type", "at", "actor", "data", "hash", "damaged")


def entries(app: PilarApplication, conn: Connection, *, from_position: int = 0, to_position: int | None = None,
            since: datetime | None = None, until: datetime | None = None,
            batch_size: int = 5000, in_clear: bool = False) -> Iterator[dict]:
    """`in_clear`: personal identifiers as stored (policy.feed_in_clear for whom the export is
    made); by default masked (pilar/cases/masking.py)."""
    position = from_position
    while batch := app.recorder.select_notifications(start=position, limit=batch_size, stop=to_position,
                                                     inclusive_of_start=False):
        hashes = hashes_between(conn, position, batch[-1].id)
        with app.mapper.key_scope():  # each key read once per batch, and forgotten after it
            items = [entry(notification, app.mapper, hashes.get(notification.id), in_clear=in_clear)
                     for notification in batch]
        for item in items:
            if item["at"] is None:  # damaged: when is unknown, and an export never leaves it out silently
                yield item
                continue
            at = datetime.fromisoformat(item["at"])
            if (since is None or at >= since) and (until is None or at <= until):
                yield item
        position = batch[-1].id


def write(items: Iterator[dict], out: IO[str], fmt: str) -> int:
    count = 0
    if fmt == "jsonl":
        for item in items:
            out.write(json.dumps(item, ensure_ascii=False, sort_keys=True) + "\n")
            count += 1
        return count
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for item in items:
        writer.writerow({**item, "data": json.dumps(item["data"], ensure_ascii=False, sort_keys=True)})
        count += 1
    return count


def read_csv(lines: IO[str]) -> Iterator[dict]:
    """The inverse of `write(..., "csv")`, for checking that an export round-trips."""
    for row in csv.DictReader(lines):
        if not row.get("damaged"):
            row.pop("damaged", None)
        yield {
            **row,
            "position": int(row["position"]),
            "version": int(row["version"]),
            "data": json.loads(row["data"]),
            "actor": row["actor"] or None,
            "hash": row["hash"] or None,
        }
