"""The application service: Pilar's commands and queries, taking domain types.

PilarApplication is an eventsourcing Application (the repository, the mapper that encrypts
personal data, snapshots) with its commands mixed in by concern: users (pilar/cases/users.py),
beneficiaries (pilar/cases/people.py), cases (pilar/cases/casework.py), all written through one write path
(pilar/cases/write_path.py). Access is asked of pilar/cases/policy.py; input rules live in pilar/cases/inputs.py.
It is built by the composition root (pilar/bootstrap.py), which hands it its infrastructure."""

import functools
import logging
from collections.abc import Callable, Mapping
from typing import Any

from eventsourcing.application import Application, ProcessingEvent, Repository
from eventsourcing.domain import Aggregate, Snapshot
from eventsourcing.persistence import ApplicationRecorder, JSONTranscoder

from pilar.cases.access import AccessRecorder
from pilar.cases.casework import CaseCommands
from pilar.cases.case import Case
from pilar.cases.domain import DateAsISO
from pilar.cases.event_mac import event_key
from pilar.cases.lookup import LookupKey
from pilar.cases.people import BeneficiaryCommands
from pilar.cases.beneficiary import Beneficiary
from pilar.cases.desil import DesilCommands
from pilar.cases.name_search import NameIndexStore, NameSearch
from pilar.cases import staging
from pilar.cases.personal_data import KeyStore, PersonalDataMapper
from pilar.cases.users import UserCommands
from pilar.cases.wilayah import Wilayah
from pilar.cases.write_path import StreamQueries, WritePath

SNAPSHOT_INTERVAL = 50
log = logging.getLogger(__name__)


def _mutate_each(aggregate: Any, events: Any) -> Any:
    # eventsourcing's project_aggregate asserts each event against a runtime-checkable
    # Protocol: ~30 µs an event, most of the cost of loading a case. Every Pilar event mutates.
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


class _Repository(Repository):
    def get(self, aggregate_id: Any, *, projector_func: Any = _mutate_each, **options: Any) -> Any:
        # Within a batch (pilar/cases/staging.py) an aggregate a command staged is loaded as staged.
        if options.get("version") is None and (staged := staging.current()) is not None:
            found = staged.get(aggregate_id)
            if found is not None:
                return found
        return super().get(aggregate_id, projector_func=projector_func, **options)


class _ProcessingEvent(ProcessingEvent):
    def collect_events(self, *objs: Any, **kwargs: Any) -> None:
        # eventsourcing asks each saved object whether it is an event, then whether it collects
        # events, both against runtime-checkable Protocols (typing's __instancecheck__ walks
        # every attribute): 1.4% of a write's CPU. Pilar saves aggregates; anything else goes the long way.
        for obj in objs:
            if isinstance(obj, Aggregate):
                self.events.extend(obj.collect_events())
                self.aggregates[obj.id] = obj
            else:
                super().collect_events(obj)
        self.saved_kwargs.update(kwargs)


class PilarApplication(UserCommands, BeneficiaryCommands, DesilCommands, NameSearch, CaseCommands, WritePath, Application):
    name = "Pilar"  # pinned: the class name would otherwise name the tables
    # A long case loads from its latest snapshot plus at most 49 events. Beneficiaries are
    # never snapshotted: a snapshot would hold their personal data outside its encryption.
    snapshotting_intervals = {Case: SNAPSHOT_INTERVAL}
    # Without it a snapshot replays through eventsourcing's project_aggregate (a Protocol check per event).
    snapshotting_projectors = {Case: _mutate_each}
    snapshot_class = Snapshot

    def __init__(self, env: dict[str, str] | None = None, *, wilayah: Wilayah, access_log: AccessRecorder,
                 personal_keys: KeyStore, name_index: NameIndexStore, streams: Callable[[ApplicationRecorder], StreamQueries],
                 audit_key: Callable[[], bytes], lookup_key: Callable[[], bytes],
                 lawful_bases: Mapping[str, str] | None = None,
                 audit_key_is_stores: Callable[[], bool] = lambda: True):
        # Before super().__init__, which builds the mapper. Keys are read when first needed, so
        # that a command needing none runs where they are not configured.
        self.personal_keys = personal_keys
        self._audit_key = audit_key
        self._audit_key_is_stores = audit_key_is_stores
        self._lookup_key = lookup_key
        super().__init__(env)
        self.wilayah = wilayah
        self.name_index = name_index
        self.access_log = access_log
        self.streams = streams(self.recorder)
        self.lawful_bases = dict(lawful_bases or {})  # each pillar's default basis (pilar/cases/lawful_basis.py)
        self._user_cache = {}

    def construct_repository(self) -> Repository:
        repository = super().construct_repository()
        repository.__class__ = _Repository  # the same repository, loading with _mutate_each
        return repository

    def construct_mapper(self) -> PersonalDataMapper:
        return PersonalDataMapper(transcoder=self.construct_transcoder(), keys=self.personal_keys,
                                  event_key=self._event_key, key_is_stores=self._audit_key_is_stores)

    @functools.cached_property
    def _event_key_bytes(self) -> bytes:
        return event_key(self._audit_key())

    def _event_key(self) -> bytes:
        return self._event_key_bytes

    @functools.cached_property
    def lookup(self) -> LookupKey:
        """Keyed hashes of NIKs and request fingerprints (pilar/cases/lookup.py)."""
        return LookupKey(self._lookup_key())

    def household_key_of(self, stored_event: Any) -> str | None:
        """The keyed hash of the KK a registration or correction records: the household view's
        one reason to open personal data, and only this field of it leaves (None: no KK, or erased)."""
        with self.mapper.key_scope():
            event = self.mapper.to_domain_event(stored_event)
        kk = event.kk if isinstance(event, Beneficiary.BeneficiaryRegistered) else event.changes.get("kk")
        return self.lookup.household_key(kk) if kk else None

    @functools.cached_property
    def view_mapper(self) -> PersonalDataMapper:
        """Reads events without opening personal data: the views hold none."""
        return self.mapper.without_personal_data()

    def take_snapshot(self, aggregate_id: Any, version: int | None = None, projector_func: Any = _mutate_each) -> None:
        # Only the newest snapshot is ever loaded (an older version replays from the start, which
        # as-of reads of a past version accept): older ones would only grow the store, each
        # holding the whole case, and keep personal text under the case's key in more places.
        super().take_snapshot(aggregate_id, version, projector_func)
        if self.snapshots is None:
            return
        if version is None:  # the snapshot just taken is of the newest version: ask which
            newest = self.snapshots.recorder.select_events(aggregate_id, desc=True, limit=1)
            version = newest[0].originator_version if newest else None
        if version is not None:
            self.streams.drop_snapshots(self.snapshots.recorder.events_table_name,  # type: ignore[attr-defined]
                                        aggregate_id, version)

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """eventsourcing's Application.save, collecting through _ProcessingEvent."""
        processing_event = _ProcessingEvent()
        processing_event.collect_events(*objs, **kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        self.notify(processing_event.events)
        return recordings

    def commit_staged(self, staged: staging.Staged) -> None:
        """Writes a batch staged by staging.staging(): the keys its events need (one transaction,
        pilar/store/personal_keys.py), its name tokens (one), then all its events (one). Keys and
        tokens go first, as a single write's do: without the events they name nobody."""
        if not staged.events:
            return
        processing_event = _ProcessingEvent()
        processing_event.events = list(staged.events)
        processing_event.aggregates = dict(staged.aggregates)
        with self.mapper.key_scope():
            keys = [*staged.keys, *self.mapper.keys_made_on_demand(processing_event.events)]
            if keys:
                self.personal_keys.create(*keys)
            if staged.names:
                self.name_index.add_many(staged.names)
            recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)

    def _take_snapshots(self, processing_event: Any) -> None:
        # The write is already committed: a failed snapshot only costs speed, never the answer.
        try:
            super()._take_snapshots(processing_event)
        except Exception:  # noqa: BLE001
            log.warning("could not take a snapshot", exc_info=True)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())
