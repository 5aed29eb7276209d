"""Numbered schema migrations for the tables that cannot be rebuilt from the events (keys, key
checks, sessions, rate-limit counters, the access log, seals): `pilar db init` applies each step
this store has not had, in order, once, under its store-wide lock, and records it in
`pilar_schema_migrations`. Views need none: an older layout is dropped and rebuilt from the events.

To change such a table: append a step (the next number, a name saying what it does, a function of
the connection), never edit or renumber one already released, and add its test to
tests/test_migrations.py (a store shaped as before the step migrates)."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from pilar.store.connection import Connection
from pilar.store.imports import IMPORT_STATEMENTS
from pilar.store.shredding import OWED_SHRED_STATEMENTS

MIGRATIONS_TABLE = "pilar_schema_migrations"
MIGRATION_STATEMENTS = [
    f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
    "applied_at TEXT NOT NULL)",
]


class NewerStore(RuntimeError):
    """The store was migrated by a newer Pilar: this one must not write to it."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[Connection], None]


def _baseline(conn: Connection) -> None:
    """The tables as `pilar db init` creates them when migrations began (CREATE ... IF NOT EXISTS,
    and the older in-place upgrades it still runs before the steps): nothing more to do."""


def _rate_limits_by_expiry(conn: Connection) -> None:
    # Expired counters are swept with `DELETE ... WHERE expires_at <= ?` (pilar/store/rate_limits.py).
    conn.execute("CREATE INDEX IF NOT EXISTS pilar_rate_limits_by_expiry ON pilar_rate_limits (expires_at)")


def _import_reports(conn: Connection) -> None:
    for statement in IMPORT_STATEMENTS:
        conn.execute(statement)


def _owed_shreds(conn: Connection) -> None:
    for statement in OWED_SHRED_STATEMENTS:
        conn.execute(statement)


MIGRATIONS = (
    Migration(1, "baseline", _baseline),
    Migration(2, "rate_limits_by_expiry", _rate_limits_by_expiry),
    Migration(3, "import_reports", _import_reports),
    Migration(4, "owed_shreds", _owed_shreds),
)


def applied(conn: Connection) -> list[int]:
    return [int(row[0]) for row in conn.all(f"SELECT version FROM {MIGRATIONS_TABLE} ORDER BY version")]


def migrate(conn: Connection, steps: tuple[Migration, ...] = MIGRATIONS) -> list[Migration]:
    """Apply every step not yet applied, each in a transaction with its record; the ones applied.
    Runs under `pilar db init`'s store-wide lock, so no two processes migrate at once."""
    with conn.transaction():
        for statement in MIGRATION_STATEMENTS:
            conn.execute(statement)
    done = set(applied(conn))
    newest = max((step.version for step in steps), default=0)
    if done and max(done) > newest:
        raise NewerStore(f"this store's schema is at version {max(done)}, migrated by a newer Pilar; this one "
                         f"knows up to {newest}: run the newer Pilar, or restore a backup taken before the upgrade")
    ran = []
    for step in sorted(steps, key=lambda s: s.version):
        if step.version in done:
            continue
        with conn.transaction():
            step.apply(conn)
            conn.execute(f"INSERT INTO {MIGRATIONS_TABLE} (version, name, applied_at) VALUES (?, ?, ?)",
                         (step.version, step.name, datetime.now(timezone.utc).isoformat(timespec="seconds")))
        ran.append(step)
    return ran
