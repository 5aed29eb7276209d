"""The privacy-request view (UU PDP): every consent withdrawal and erasure request, its 3×24 h
deadline, and what became of it: `erased` when the person's data was erased, `consent_renewed`
when they gave consent again before that (a withdrawal only). Rows hold ids, kinds, actors and
times: no personal data (a withdrawal's or request's reason is the person's, encrypted). Beside
them, where each person lives (`people`: id and kecamatan code), for kecamatan-scoped readers.

Part of the workload projector's batch: the same transaction and tracking position, rebuilt
with the other views, one handler per event type."""

from functools import singledispatchmethod
from typing import Any

from eventsourcing.utils import get_topic

from pilar.cases.beneficiary import Beneficiary
from pilar.cases.clock import utc_text
from pilar.cases.lawful_basis import erasure_deadline
from pilar.projections.schema import PEOPLE_TABLE, PRIVACY_COLUMNS
from pilar.store.connection import Connection

PRIVACY_TOPICS = frozenset(get_topic(event) for event in (
    Beneficiary.ConsentRecorded, Beneficiary.ConsentWithdrawn, Beneficiary.ErasureRequested,
    Beneficiary.PersonalDataErased, Beneficiary.BeneficiaryRegistered, Beneficiary.BeneficiaryDetailsCorrected))
PEOPLE_COLUMNS = tuple(name for name, _ in PEOPLE_TABLE)


class PrivacyChanges:
    """The privacy-request rows one batch changes, gathered in memory and written at once."""

    def __init__(self, conn: Connection, prefix: str):
        self.conn = conn
        self.p = prefix
        self.rows: dict[str, dict[str, Any]] = {}
        self.people: dict[str, str] = {}  # beneficiary id: kecamatan code

    def apply(self, event: Beneficiary.Event, position: int) -> None:
        self._change(event, position)

    @singledispatchmethod
    def _change(self, event: Beneficiary.Event, position: int) -> None:
        """An event that neither makes nor answers a request changes nothing."""

    @_change.register(Beneficiary.BeneficiaryRegistered)
    def _registered(self, event: Beneficiary.BeneficiaryRegistered, position: int) -> None:
        self.people[str(event.originator_id)] = event.kecamatan_code

    @_change.register(Beneficiary.BeneficiaryDetailsCorrected)
    def _corrected(self, event: Beneficiary.BeneficiaryDetailsCorrected, position: int) -> None:
        if "kecamatan_code" in event.changes:  # a move to another desa names its kecamatan
            self.people[str(event.originator_id)] = event.changes["kecamatan_code"]

    @_change.register(Beneficiary.ConsentWithdrawn)
    def _consent_withdrawn(self, event: Beneficiary.ConsentWithdrawn, position: int) -> None:
        self._request(event, "consent_withdrawn", position)

    @_change.register(Beneficiary.ErasureRequested)
    def _erasure_requested(self, event: Beneficiary.ErasureRequested, position: int) -> None:
        self._request(event, "erasure_requested", position)

    @_change.register(Beneficiary.PersonalDataErased)
    def _erased(self, event: Beneficiary.PersonalDataErased, position: int) -> None:
        self._resolve(event, position, "erased", kinds=("consent_withdrawn", "erasure_requested"))

    @_change.register(Beneficiary.ConsentRecorded)
    def _consent_recorded(self, event: Beneficiary.ConsentRecorded, position: int) -> None:
        # Consent given again: the withdrawal no longer asks for erasure; a request for erasure still does.
        self._resolve(event, position, "consent_renewed", kinds=("consent_withdrawn",))

    def _request(self, event: Beneficiary.Event, kind: str, position: int) -> None:
        request_id = f"{event.originator_id}:{event.originator_version}"
        self.rows[request_id] = {
            "request_id": request_id, "beneficiary_id": str(event.originator_id), "kind": kind,
            "requested_at": utc_text(event.timestamp), "requested_by": event.actor,
            "deadline": utc_text(erasure_deadline(event.timestamp)), "status": "open", "resolved_at": None,
            "position": position,
        }

    def _resolve(self, event: Beneficiary.Event, position: int, status: str, kinds: tuple[str, ...]) -> None:
        for row in self._open_rows(str(event.originator_id)):
            if row["kind"] in kinds:
                row.update(status=status, resolved_at=utc_text(event.timestamp), position=position)

    def _open_rows(self, beneficiary_id: str) -> list[dict[str, Any]]:
        stored = self.conn.all(
            f"SELECT {', '.join(PRIVACY_COLUMNS)} FROM {self.p}_privacy_requests "
            "WHERE beneficiary_id = ? AND status = 'open'", (beneficiary_id,))
        for found in stored:
            row = dict(zip(PRIVACY_COLUMNS, found))
            self.rows.setdefault(row["request_id"], row)  # a row this batch changed already is newer
        return [row for row in self.rows.values()
                if row["beneficiary_id"] == beneficiary_id and row["status"] == "open"]

    def flush(self) -> None:
        self.conn.executemany(
            f"INSERT INTO {self.p}_people ({', '.join(PEOPLE_COLUMNS)}) VALUES (?, ?) "
            "ON CONFLICT (beneficiary_id) DO UPDATE SET kecamatan_code = excluded.kecamatan_code",
            list(self.people.items()))
        updates = ", ".join(f"{col} = excluded.{col}" for col in PRIVACY_COLUMNS[1:])
        self.conn.executemany(
            f"INSERT INTO {self.p}_privacy_requests ({', '.join(PRIVACY_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(PRIVACY_COLUMNS))}) ON CONFLICT (request_id) DO UPDATE SET {updates}",
            [tuple(row[col] for col in PRIVACY_COLUMNS) for row in self.rows.values()])
