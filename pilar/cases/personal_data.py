"""Crypto-shredding of personal data (UU PDP erasure), and the MAC every stored event carries.

The personal parts of events (pilar/cases/personal_fields.py) are stored encrypted (AES-256-GCM)
under a key of their subject alone, kept outside the event table (a `KeyStore`). Erasure
destroys the keys: the stored events stay byte-for-byte as they were (so the hash chains still
verify), but the NIK, name, free text and the rest can no longer be read by anyone.

Keys are read once per `key_scope()` (one load or one write), never cached longer: an erased
key is gone from every process at the next request."""

import base64
import contextlib
import hmac
import os
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from typing import Any, Protocol
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import Mapper, MapperDeserialisationError, StoredEvent
from eventsourcing.utils import TopicError

from pilar.cases import event_mac, event_origin
from pilar.cases.errors import DamagedEvent
from pilar.cases.personal_fields import detached, key_id, made_on_demand, paths_of, put, take

SEALED_V1 = "sealed_personal"  # a nested dict merged into the event (events written before 2026-12)
SEALED = "sealed_paths"  # {"a.0.b": value}: see pilar/cases/personal_fields.py
SEALED_UNDER = "sealed_under"  # which key: a case written to after an erasure has a new one
_scope: ContextVar[dict[UUID, bytes | None] | None] = ContextVar("pilar_key_scope", default=None)


class KeyStore(Protocol):
    """Where per-subject keys are kept (pilar/store/personal_keys.py)."""

    def create(self, *subject_ids: UUID) -> None: ...

    def get(self, subject_id: UUID) -> bytes | None: ...

    def destroy(self, *subject_ids: UUID) -> None: ...


class PersonalDataMapper(Mapper):
    def __init__(self, *args: Any, keys: KeyStore, event_key: Callable[[], bytes], opens: bool = True,
                 key_is_stores: Callable[[], bool] = lambda: True, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.keys = keys
        self._event_key = event_key
        self.opens = opens  # False: personal fields stay None (the views need none of them)
        # Asked only when a MAC fails: under an audit key that is not the store's every MAC fails,
        # and that is a misconfiguration (refused where keys are checked), not damage.
        self._key_is_stores = key_is_stores

    def without_personal_data(self) -> "PersonalDataMapper":
        return PersonalDataMapper(transcoder=self.transcoder, keys=self.keys, event_key=self._event_key, opens=False,
                                  key_is_stores=self._key_is_stores)

    @contextlib.contextmanager
    def key_scope(self) -> Iterator[None]:
        if _scope.get() is not None:
            yield
            return
        token = _scope.set({})
        try:
            yield
        finally:
            _scope.reset(token)

    def forget(self, subject_id: UUID) -> None:
        """Drop a destroyed key from the current scope."""
        if (cache := _scope.get()) is not None:
            cache.pop(subject_id, None)

    def _key(self, subject_id: UUID) -> bytes | None:
        cache = _scope.get()
        if cache is None:
            return self.keys.get(subject_id)
        if subject_id not in cache:
            cache[subject_id] = self.keys.get(subject_id)
        return cache[subject_id]

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        if (import_id := event_origin.current()) is not None:
            domain_event = _with_field(domain_event, event_origin.FIELD, import_id)
        stored = self._encrypted(domain_event)
        # StoredEvent(...) rather than dataclasses.replace, which costs a field walk per event.
        return StoredEvent(stored.originator_id, stored.originator_version, stored.topic,
                           event_mac.sign(self._event_key(), stored.originator_id, stored.originator_version,
                                          stored.topic, stored.state))

    def keys_made_on_demand(self, domain_events: Iterable[Any]) -> list[UUID]:
        """The keys these events would have made when written (a case's, a NIK holding's), for a
        batch to make them all at once beforehand (pilar/cases/staging.py); existing ones stay."""
        return list(dict.fromkeys(
            key_id(type(event), event.originator_id, event.originator_version) for event in domain_events
            if made_on_demand(type(event)) and _personal_part(event)[1]))

    def _encrypted(self, domain_event: Any) -> StoredEvent:
        state, personal = _personal_part(domain_event)
        if not personal:
            return super().to_stored_event(domain_event)
        subject = key_id(type(domain_event), domain_event.originator_id, domain_event.originator_version)
        key = self._key(subject)
        if key is None and made_on_demand(type(domain_event)):
            self.keys.create(subject)
            self.forget(subject)
            key = self._key(subject)
        if key is None:
            raise RuntimeError(f"no personal-data key for {subject}")
        nonce = os.urandom(12)
        sealed = AESGCM(key).encrypt(nonce, self.transcoder.encode(personal),
                                     _bound(domain_event.originator_id, domain_event.originator_version))
        shadow = object.__new__(type(domain_event))
        object.__setattr__(shadow, "__dict__", {**state, SEALED: base64.b64encode(nonce + sealed).decode(),
                                                SEALED_UNDER: _key_id(key)})
        return super().to_stored_event(shadow)

    def check_mac(self, stored_event: StoredEvent) -> None:
        """Raises DamagedEvent if the event's MAC does not hold (one without a MAC passes here:
        verify judges those against the store's MAC boundary)."""
        if event_mac.check(self._event_key(), stored_event.originator_id, stored_event.originator_version,
                           stored_event.topic, stored_event.state) is False and self._key_is_stores():
            raise _damaged(stored_event, "its MAC does not hold: its bytes, topic, stream or version were changed "
                                         "after Pilar wrote it")

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        self.check_mac(stored_event)
        try:
            return self._decoded(stored_event)
        except UNREADABLE as error:
            raise _damaged(stored_event, _reason(error)) from None

    def _decoded(self, stored_event: StoredEvent) -> Any:
        event = super().to_domain_event(StoredEvent(stored_event.originator_id, stored_event.originator_version,
                                                    stored_event.topic, event_mac.payload(stored_event.state)))
        fields = vars(event)
        sealed, nested, under = fields.pop(SEALED, None), fields.pop(SEALED_V1, None), fields.pop(SEALED_UNDER, None)
        if (sealed or nested) is None or not self.opens:
            return event
        key = self._key(key_id(type(event), stored_event.originator_id, stored_event.originator_version))
        if key is None or (under is not None and under != _key_id(key)):
            return event  # erased: the personal fields stay None
        raw = base64.b64decode(sealed or nested)
        personal = self.transcoder.decode(AESGCM(key).decrypt(
            raw[:12], raw[12:], _bound(stored_event.originator_id, stored_event.originator_version)))
        if sealed is not None:
            put(fields, personal)
        else:
            for name, value in personal.items():
                fields[name] = {**fields[name], **value} if name == "changes" else value
        return event


# What a damaged row raises while it is decoded (ValueError covers bad JSON, UTF-8 and base64).
UNREADABLE = (MapperDeserialisationError, ValueError, TypeError, KeyError, AttributeError, IndexError, TopicError,
              InvalidTag)


def _reason(error: Exception) -> str:
    if isinstance(error, TopicError):
        return "its topic names no event class of this Pilar"
    if isinstance(error, InvalidTag):
        return "its personal data does not decrypt under its key"
    return f"its bytes do not decode as an event ({type(error).__name__})"


def _damaged(stored_event: StoredEvent, reason: str) -> DamagedEvent:
    return DamagedEvent(stored_event.originator_id, stored_event.originator_version,
                        getattr(stored_event, "id", None), reason)


def _personal_part(domain_event: Any) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """(the event's fields with the personal ones set to None, the personal ones taken out)."""
    paths = paths_of(type(domain_event))
    if not paths:
        return None, {}
    state = detached(vars(domain_event), paths)
    return state, take(state, paths)


def _with_field(domain_event: Any, name: str, value: Any) -> Any:
    copied = object.__new__(type(domain_event))
    object.__setattr__(copied, "__dict__", {**vars(domain_event), name: value})
    return copied


def _key_id(key: bytes) -> str:
    return hmac.digest(key, b"pilar-key-id", "sha256").hex()[:8]  # one-shot: asked once per event decoded


def _bound(originator_id: UUID, version: int) -> bytes:
    # The ciphertext only opens in its own place: it cannot be moved to another person or event.
    return f"{originator_id}|{version}".encode()
