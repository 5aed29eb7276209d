"""Keyed hashes for looking things up without storing them: the NIK claim's stream id, a
household's KK (the household view's key), the tokens a name is found by (one per normalised
word: the name index, pilar/store/name_index.py) and the fingerprint of an idempotent request.
The lookup key is kept outside the database (like the audit key and the KEK), so a copy of the
database cannot be searched by trying candidate NIKs or KKs (few enough likely values to
enumerate) or short request bodies."""

import hashlib
import hmac
import unicodedata
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

    def household_key(self, kk: str) -> str:
        """The KK's keyed hash: the household view's only trace of it (pilar/projections/households.py)."""
        return self._digest("kk-household", kk.encode()).hex()

    def name_token(self, word: str) -> str:
        """A word of a name (name_words) as the name index keeps it: equal words, equal tokens."""
        return self._digest("name-word", word.encode()).hex()[:32]

    def fingerprint(self, canonical: bytes) -> str:
        return FINGERPRINT_PREFIX + self._digest("request", canonical).hex()


def name_words(text: str) -> list[str]:
    """A name's words as they are searched: accents and punctuation dropped, case folded
    ("Sitì Nur'aini" → ["siti", "nur", "aini"]), each once, in order."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).casefold()
    words = "".join(c if c.isalnum() else " " for c in plain).split()
    return list(dict.fromkeys(words))
