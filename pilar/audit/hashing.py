"""The hashes seals are made of (pilar/audit/seals.py for events, pilar/audit/access_seals.py for the access log)."""

import hashlib
import hmac
import json
from collections.abc import Sequence


def event_hash(previous: str, stream_id: str, version: int, topic: str, state: bytes) -> str:
    digest = hashlib.sha256()
    digest.update(f"{previous}|{stream_id}|{version}|{topic}|".encode())
    digest.update(hashlib.sha256(state).digest())
    return digest.hexdigest()


def chain_hash(key: bytes, previous: str, position: int, hashed: str) -> str:
    return hmac.new(key, f"{previous}|{position}|{hashed}".encode(), hashlib.sha256).hexdigest()


def access_key(audit_key: bytes) -> bytes:
    return hmac.new(audit_key, b"pilar-access-seal", hashlib.sha256).digest()


def row_hash(values: Sequence) -> str:
    """An access-log row's columns, unambiguously (None is not '')."""
    return hashlib.sha256(json.dumps(list(values), ensure_ascii=False).encode()).hexdigest()


def access_chain_hash(key: bytes, previous: str, seq: int, entry_id: str, hashed: str) -> str:
    return hmac.new(key, f"{previous}|{seq}|{entry_id}|{hashed}".encode(), hashlib.sha256).hexdigest()
