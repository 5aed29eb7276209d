"""Every event Pilar writes carries a MAC under a key derived from the audit key, inside its
stored bytes, so an event inserted or re-attributed by someone who can write the database but
has no audit key is caught by verify at once, even before it is sealed.

    stored state = MARK | HMAC(event key, stream | version | topic | payload) | payload

Events written before MACs existed (stores set up by an older Pilar) have none; the store keeps
the last position that may lack one (`boundary_value`), itself under the key."""

import hashlib
import hmac
from uuid import UUID

MARK = b"\x00pilar-mac1\x00"
MAC_BYTES = 32
BOUNDARY_NAME = "event-macs-before"


def event_key(audit_key: bytes) -> bytes:
    return hmac.new(audit_key, b"pilar-event-mac", hashlib.sha256).digest()


def _mac(key: bytes, originator_id: UUID | str, version: int, topic: str, payload: bytes) -> bytes:
    # The one-shot hmac.digest runs in OpenSSL; an HMAC object cost 4% of a write's CPU.
    return hmac.digest(key, f"{originator_id}|{version}|{topic}|".encode() + payload, "sha256")


def sign(key: bytes, originator_id: UUID, version: int, topic: str, payload: bytes) -> bytes:
    return MARK + _mac(key, originator_id, version, topic, payload) + payload


def payload(state: bytes) -> bytes:
    """The event's own bytes, with its MAC (if any) taken off."""
    state = bytes(state)
    return state[len(MARK) + MAC_BYTES:] if state.startswith(MARK) else state


def signed(state: bytes) -> bool:
    """Whether the stored state carries a MAC at all (whether it holds is `check`'s question)."""
    return bytes(state).startswith(MARK)


def check(key: bytes, originator_id: UUID | str, version: int, topic: str, state: bytes) -> bool | None:
    """True if the MAC holds, False if it does not, None if the event carries none."""
    state = bytes(state)
    if not state.startswith(MARK):
        return None
    mac = state[len(MARK):len(MARK) + MAC_BYTES]
    return hmac.compare_digest(mac, _mac(key, originator_id, version, topic, state[len(MARK) + MAC_BYTES:]))


def signed_number(key: bytes, name: str, number: int) -> str:
    """`number` with an HMAC under `key`, so that only the key's holder can move it (e.g. the last
    position written before MACs began)."""
    return f"{number}:{hmac.new(key, f'{name}|{number}'.encode(), hashlib.sha256).hexdigest()[:32]}"


def read_signed_number(key: bytes, name: str, value: str | None) -> int | None:
    """The number in `value`, or None when there is none or it was not signed under `key`."""
    if not value or ":" not in value:
        return None
    number, _ = value.split(":", 1)
    if not number.isdigit() or not hmac.compare_digest(value, signed_number(key, name, int(number))):
        return None
    return int(number)


def boundary_value(key: bytes, position: int) -> str:
    """The text kept in the store for 'events up to `position` may lack a MAC'."""
    return signed_number(key, BOUNDARY_NAME, position)


def parse_boundary(key: bytes, value: str | None) -> int | None:
    """The boundary position, or None when there is none or it was not written under `key`."""
    return read_signed_number(key, BOUNDARY_NAME, value)
