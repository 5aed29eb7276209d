"""DTSEN desil in the views: each person's latest desil by period (the `desil` table) and, on every
case of theirs, its value and period, so that workloads count open cases by desil and the case
list finds those whose desil is stale (pilar/cases/desil.py). A desil of an older period than the one
on record changes nothing; one of the same or a newer period replaces it."""

from typing import Any

from pilar.cases.beneficiary import Beneficiary


class DesilChanges:
    def __init__(self, batch: Any):
        self.batch = batch
        self.latest: dict[str, tuple[int, str] | None] = {}  # person id: (desil, period)

    def of(self, person: str) -> tuple[int, str] | None:
        if person not in self.latest:
            b = self.batch
            found = b.conn.one(f"SELECT desil, period FROM {b.p}_desil WHERE beneficiary_id = ?", (person,))
            self.latest[person] = (int(found[0]), found[1]) if found else None
        return self.latest[person]

    def recorded(self, event: Beneficiary.DesilRecorded) -> None:
        person = str(event.originator_id)
        current = self.of(person)
        if current is not None and event.period < current[1]:
            return
        self.latest[person] = (event.desil, event.period)
        for case_id in self._cases_of(person):
            self.batch.set_desil(case_id, event.desil, event.period)

    def _cases_of(self, person: str) -> list[str]:
        b = self.batch
        stored = {row[0] for row in b.conn.all(f"SELECT case_id FROM {b.p}_cases WHERE beneficiary_id = ?",
                                                (person,))}
        opened = {case_id for case_id, row in b.rows.items() if row is not None and row["beneficiary_id"] == person}
        return sorted(stored | opened)

    def flush(self) -> None:
        b = self.batch
        b.conn.executemany(
            f"INSERT INTO {b.p}_desil (beneficiary_id, desil, period) VALUES (?, ?, ?) ON CONFLICT (beneficiary_id) "
            "DO UPDATE SET desil = excluded.desil, period = excluded.period",
            [(person, *latest) for person, latest in self.latest.items() if latest is not None])
