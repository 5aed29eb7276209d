"""Keyed hashes for looking things up without storing them: the NIK claim's stream id and the
fingerprint of an idempotent request. The lookup key is kept outside the database (like the
audit key and the KEK), so a copy of the database cannot be searched by trying candidate NIKs
(a NIK has few enough likely values to enumerate) or short request bodies."""

import hashlib
import hmac
from uuid import UUID

FINGERPRINT_PREFIX = "h1:"


class LookupKey:
    def __init__(self, key: bytes):
        if len(key) < 16:
            raise ValueError("the lookup key must be at least 16 bytes")
        self._key = key

    def _digest(self, purpose: str, value: bytes) -> bytes:
        return hmac.new(self._key, purpose.encode() + b"|" + value, hashlib.sha256).digest()

    def nik_claim_id(self, nik: str) -> UUID:
        return UUID(bytes=self._digest("nik-claim", nik.encode())[:16], version=4)

    def fingerprint(self, canonical: bytes) -> str:
        return FINGERPRINT_PREFIX + self._digest("request", canonical).hex()
