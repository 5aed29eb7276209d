"""The household view: who shares a KK, as the KK's keyed hash (pilar/cases/lookup.py) beside person
ids, and nothing else, so a copy of the database names no KK and cannot be searched by one
without the lookup key. Each registration and each correction of the KK places the person under
their KK's hash; erasure takes them out. The KK is encrypted in the events: this is the one view
that opens it (PilarApplication.household_key_of), and only its keyed hash leaves.

Part of the workload projector's batch (pilar/projections/workload.py): same transaction and tracking
position, rebuilt with the other views."""

from collections.abc import Callable
from typing import Any

from pilar.cases.beneficiary import Beneficiary
from pilar.store.connection import Connection, Readers

HouseholdKey = Callable[[Any], "str | None"]  # a stored registration or correction → its KK's keyed hash


class HouseholdChanges:
    """The memberships one batch changes: person id → household key (None: in no household)."""

    def __init__(self, conn: Connection, prefix: str, household_key: HouseholdKey):
        self.conn = conn
        self.p = prefix
        self.household_key = household_key
        self.members: dict[str, str | None] = {}

    def apply(self, event: Beneficiary.Event, stored: Any) -> None:
        person = str(event.originator_id)
        if isinstance(event, Beneficiary.BeneficiaryRegistered) or (
                isinstance(event, Beneficiary.BeneficiaryDetailsCorrected) and "kk" in event.changes):
            self.members[person] = self.household_key(stored)
        elif isinstance(event, Beneficiary.PersonalDataErased):
            self.members[person] = None

    def flush(self) -> None:
        self.conn.executemany(f"DELETE FROM {self.p}_households WHERE beneficiary_id = ?",
                              [(person,) for person, key in self.members.items() if key is None])
        self.conn.executemany(
            f"INSERT INTO {self.p}_households (beneficiary_id, household_key) VALUES (?, ?) "
            "ON CONFLICT (beneficiary_id) DO UPDATE SET household_key = excluded.household_key",
            [(person, key) for person, key in self.members.items() if key is not None])


def household_members(readers: Readers, household_key: str, prefix: str = "view") -> list[str]:
    """The ids of the people registered under a household key, in a stable order."""
    with readers.connection() as conn:
        rows = conn.all(f"SELECT beneficiary_id FROM {prefix}_households WHERE household_key = ? "
                        "ORDER BY beneficiary_id", (household_key,))
    return [row[0] for row in rows]
