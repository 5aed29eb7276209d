"""Which store the events live in, chosen by one URL (PILAR_DATABASE_URL), and the few
queries eventsourcing's recorders do not offer."""

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Notification


class StoreUrlError(ValueError):
    pass


@dataclass(frozen=True)
class StoreConfig:
    url: str

    @property
    def kind(self) -> str:
        scheme = urlsplit(self.url).scheme
        if scheme == "sqlite":
            return "sqlite"
        if scheme in ("postgresql", "postgres"):
            return "postgres"
        raise StoreUrlError(
            f"PILAR_DATABASE_URL must start with sqlite:/// or postgresql://, not {scheme or self.url!r}"
        )

    @property
    def sqlite_path(self) -> Path:
        # sqlite:///relative/file.db and sqlite:////absolute/file.db, as in SQLAlchemy.
        path = self.url[len("sqlite:///") :]
        if not self.url.startswith("sqlite:///") or not path:
            raise StoreUrlError("a SQLite URL looks like sqlite:///path/to/pilar.db")
        return Path(path)

    def eventsourcing_env(self, *, create_table: bool) -> dict[str, str]:
        env = {"CREATE_TABLE": "y" if create_table else "n"}
        if self.kind == "sqlite":
            path = self.sqlite_path
            path.parent.mkdir(parents=True, exist_ok=True)
            env.update(PERSISTENCE_MODULE="cases.sqlite_store:PilarSQLiteFactory", SQLITE_DBNAME=str(path), SQLITE_LOCK_TIMEOUT="30")
            return env
        parts = urlsplit(self.url)
        dbname = parts.path.lstrip("/")
        if not dbname or not parts.hostname:
            raise StoreUrlError("a PostgreSQL URL looks like postgresql://user:password@host:5432/dbname")
        query = parse_qs(parts.query)
        env.update(
            PERSISTENCE_MODULE="eventsourcing.postgres",
            POSTGRES_DBNAME=dbname,
            POSTGRES_HOST=parts.hostname,
            POSTGRES_PORT=str(parts.port or 5432),
            POSTGRES_USER=unquote(parts.username or "postgres"),
            POSTGRES_PASSWORD=unquote(parts.password or ""),
            POSTGRES_SCHEMA=query.get("schema", ["public"])[0],
            POSTGRES_POOL_SIZE=query.get("pool_size", ["5"])[0],
            POSTGRES_MAX_OVERFLOW=query.get("max_overflow", ["10"])[0],
            POSTGRES_CONNECT_TIMEOUT=query.get("connect_timeout", ["5"])[0],
            POSTGRES_LOCK_TIMEOUT="10",
            POSTGRES_PRE_PING="y",
            # Never POSTGRES_ENABLE_DB_FUNCTIONS: it loses events for followers.
            POSTGRES_ENABLE_DB_FUNCTIONS="n",
        )
        return env


def is_postgres(recorder: ApplicationRecorder) -> bool:
    # eventsourcing's PostgreSQL datastore has a schema; its SQLite one does not.
    return hasattr(recorder.datastore, "schema")  # type: ignore[attr-defined]


def head_sql(recorder: ApplicationRecorder) -> str:
    """SQL for the global position of the newest stored event."""
    column = "notification_id" if is_postgres(recorder) else "rowid"
    return f"SELECT MAX({column}) FROM {recorder.events_table_name}"  # type: ignore[attr-defined]


def position_of(recorder: ApplicationRecorder, originator_id: UUID, version: int) -> int | None:
    """The global position (notification id) of one stored event."""
    datastore = recorder.datastore  # type: ignore[attr-defined]
    table = recorder.events_table_name  # type: ignore[attr-defined]
    if is_postgres(recorder):
        from psycopg.sql import SQL, Identifier

        statement = SQL(
            "SELECT notification_id FROM {}.{} WHERE originator_id = %s AND originator_version = %s"
        ).format(Identifier(datastore.schema), Identifier(table))
        with datastore.transaction(commit=False) as curs:
            curs.execute(statement, (originator_id, version))
            row = curs.fetchone()
            return row["notification_id"] if row else None
    with datastore.transaction(commit=False) as curs:
        curs.execute(
            f"SELECT rowid FROM {table} WHERE originator_id = ? AND originator_version = ?",
            (originator_id.hex, version),
        )
        row = curs.fetchone()
        return row[0] if row else None


def select_stream(recorder: ApplicationRecorder, originator_id: UUID, *, after_version: int = 0,
                  limit: int = 100) -> list[Notification]:
    """One stream's events in version order, each with its global position."""
    datastore = recorder.datastore  # type: ignore[attr-defined]
    table = recorder.events_table_name  # type: ignore[attr-defined]
    if is_postgres(recorder):
        from psycopg.sql import SQL, Identifier

        statement = SQL(
            "SELECT notification_id, originator_version, topic, state FROM {}.{} "
            "WHERE originator_id = %s AND originator_version > %s ORDER BY originator_version LIMIT %s"
        ).format(Identifier(datastore.schema), Identifier(table))
        with datastore.transaction(commit=False) as curs:
            curs.execute(statement, (originator_id, after_version, limit))
            rows = [(r["notification_id"], r["originator_version"], r["topic"], bytes(r["state"]))
                    for r in curs.fetchall()]
    else:
        with datastore.transaction(commit=False) as curs:
            curs.execute(
                f"SELECT rowid, originator_version, topic, state FROM {table} "
                "WHERE originator_id = ? AND originator_version > ? ORDER BY originator_version LIMIT ?",
                (originator_id.hex, after_version, limit),
            )
            rows = [tuple(r) for r in curs.fetchall()]
    return [Notification(id=p, originator_id=originator_id, originator_version=v, topic=t, state=s)
            for p, v, t, s in rows]
