"""A retried write must return its first answer and append nothing. The record of the first
answer is an aggregate saved in the same transaction as the write's own events, so the key and
the events exist together or not at all, across restarts and workers."""

from uuid import UUID

from pilar.cases.domain import PilarAggregate, stable_id


class IdempotencyRecord(PilarAggregate):
    class WriteAnswered(PilarAggregate.Created):
        key: str
        fingerprint: str
        aggregate_id: UUID
        aggregate_version: int
        answer: dict

        def apply(self, record: "IdempotencyRecord") -> None:
            record.key = self.key
            record.fingerprint = self.fingerprint
            record.aggregate_id = self.aggregate_id
            record.aggregate_version = self.aggregate_version
            record.answer = self.answer

    @staticmethod
    def id_for(username: str, key: str) -> UUID:
        # Keys are scoped per user: two people can never collide on each other's keys.
        return stable_id("idempotency", f"{username}\x00{key}")

    @classmethod
    def record(
        cls, *, actor: str, key: str, fingerprint: str, aggregate_id: UUID, aggregate_version: int, answer: dict
    ) -> "IdempotencyRecord":
        return cls._create(
            cls.WriteAnswered,
            id=cls.id_for(actor, key),
            actor=actor,
            key=key,
            fingerprint=fingerprint,
            aggregate_id=aggregate_id,
            aggregate_version=aggregate_version,
            answer=answer,
        )
