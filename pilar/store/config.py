"""Which store the events live in, chosen by one URL (PILAR_DATABASE_URL)."""

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit


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

    @property
    def schema(self) -> str:
        """The PostgreSQL schema holding events, views, seals and keys."""
        return parse_qs(urlsplit(self.url).query).get("schema", ["public"])[0]

    def conninfo(self) -> str:
        """The PostgreSQL URL without Pilar's own query options."""
        return urlsplit(self.url)._replace(query="").geturl()

    def create_private_file(self) -> None:
        """SQLite: the database file, readable by its owner only before SQLite writes a byte; its
        -wal and -shm files take the same mode from it (those left by an older Pilar are set here
        too). PostgreSQL: nothing."""
        if self.kind != "sqlite":
            return
        path = self.sqlite_path
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            if file.exists():
                file.chmod(0o600)

    def eventsourcing_env(self, *, create_table: bool) -> dict[str, str]:
        env = {"CREATE_TABLE": "y" if create_table else "n"}
        if self.kind == "sqlite":
            path = self.sqlite_path
            path.parent.mkdir(parents=True, exist_ok=True)
            if create_table:
                self.create_private_file()
            env.update(PERSISTENCE_MODULE="store.sqlite:PilarSQLiteFactory", SQLITE_DBNAME=str(path),
                       SQLITE_LOCK_TIMEOUT="30")
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
            POSTGRES_SCHEMA=self.schema,
            POSTGRES_POOL_SIZE=query.get("pool_size", ["5"])[0],
            POSTGRES_MAX_OVERFLOW=query.get("max_overflow", ["10"])[0],
            POSTGRES_CONNECT_TIMEOUT=query.get("connect_timeout", ["5"])[0],
            POSTGRES_LOCK_TIMEOUT="10",
            POSTGRES_PRE_PING="y",
            # Never POSTGRES_ENABLE_DB_FUNCTIONS: it loses events for followers.
            POSTGRES_ENABLE_DB_FUNCTIONS="n",
        )
        return env
