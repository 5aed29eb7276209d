"""Crypto-shredding of a beneficiary's personal data (UU PDP erasure).

The personal fields of a beneficiary's events are stored encrypted (AES-256-GCM) under a key
of that person alone, kept outside the event table (a `KeyStore`). Erasure destroys the
key: the stored events stay byte-for-byte as they were (so the hash chains still verify), but
the NIK, name, birth date and the rest can no longer be read by anyone."""

import base64
import os
from typing import Any, Protocol
from uuid import UUID

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import Mapper, StoredEvent

from cases.beneficiary import PERSONAL_FIELDS, Beneficiary

PERSONAL = frozenset(PERSONAL_FIELDS)
SEALED = "sealed_personal"


class KeyStore(Protocol):
    """Where per-person keys are kept (store/personal_keys.py)."""

    def create(self, beneficiary_id: UUID) -> None: ...

    def get(self, beneficiary_id: UUID) -> bytes | None: ...

    def destroy(self, beneficiary_id: UUID) -> None: ...


def _split(event: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(what is stored in clear, what is encrypted) for events that carry personal data."""
    state = dict(vars(event))
    if isinstance(event, Beneficiary.BeneficiaryRegistered):
        personal = {name: state[name] for name in PERSONAL}
        clear = {**state, **{name: None for name in PERSONAL}}
    elif isinstance(event, Beneficiary.BeneficiaryDetailsCorrected):
        personal = {"changes": {k: v for k, v in state["changes"].items() if k in PERSONAL}, "reason": state["reason"]}
        clear = {**state, "changes": {k: (None if k in PERSONAL else v) for k, v in state["changes"].items()},
                 "reason": None}
    elif isinstance(event, Beneficiary.ConsentRecorded):
        personal = {"given_by": state["given_by"]}
        clear = {**state, "given_by": None}
    else:
        return None
    return clear, personal


class PersonalDataMapper(Mapper):
    def __init__(self, *args: Any, keys: KeyStore, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.keys = keys

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        split = _split(domain_event)
        if split is None:
            return super().to_stored_event(domain_event)
        clear, personal = split
        key = self.keys.get(domain_event.originator_id)
        if key is None:
            raise RuntimeError(f"no personal-data key for beneficiary {domain_event.originator_id}")
        nonce = os.urandom(12)
        sealed = AESGCM(key).encrypt(nonce, self.transcoder.encode(personal), _bound(domain_event.originator_id,
                                                                                    domain_event.originator_version))
        shadow = object.__new__(type(domain_event))
        object.__setattr__(shadow, "__dict__", {**clear, SEALED: base64.b64encode(nonce + sealed).decode()})
        return super().to_stored_event(shadow)

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        event = super().to_domain_event(stored_event)
        sealed = vars(event).pop(SEALED, None)
        if sealed is None:
            return event
        key = self.keys.get(stored_event.originator_id)
        if key is None:
            return event  # erased: the personal fields stay None
        raw = base64.b64decode(sealed)
        personal = self.transcoder.decode(
            AESGCM(key).decrypt(raw[:12], raw[12:], _bound(stored_event.originator_id, stored_event.originator_version)))
        for name, value in personal.items():
            vars(event)[name] = {**vars(event)[name], **value} if name == "changes" else value
        return event


def _bound(originator_id: UUID, version: int) -> bytes:
    # The ciphertext only opens in its own place: it cannot be moved to another person or event.
    return f"{originator_id}|{version}".encode()
