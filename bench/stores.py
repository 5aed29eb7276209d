"""The benchmarks' stores: made fresh in a temporary folder (SQLite) or schema (PostgreSQL), filled
quickly, and the cases the writes are aimed at.

A store is filled with BENCH_BASE_EVENTS events written through the application service (every
rule applies: bench/generate.py), and the rest of its size by copying those case streams under new
ids (testkit/bulk.py: the recorder inserts them in large transactions, each copy's MAC made again).
Through the service a shared PostgreSQL wrote ~15 events/s while other work loaded the machine;
copies go in at thousands a second, so a 1,000,000-event store builds in minutes on either store."""

import os
import uuid
from pathlib import Path

import psycopg

from bench.generate import generate
from pilar.bootstrap import bootstrap, init_store
from pilar.cases.wilayah import DEFAULT_WILAYAH_CSV
from pilar.settings import Settings
from pilar.store.config import StoreConfig
from pilar.store.connection import Readers
from testkit.bulk import copy_case_streams

POSTGRES_URL = os.environ.get("PILAR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
BASE_EVENTS = int(os.environ.get("BENCH_BASE_EVENTS", "3000"))


def fresh_settings(kind: str, workdir: Path) -> Settings:
    workdir.mkdir(parents=True, exist_ok=True)
    if kind == "sqlite":
        url = f"sqlite:///{workdir / 'bench.db'}"
    else:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        url = f"{POSTGRES_URL}?schema={schema}"
    settings = Settings(instance_path=workdir / "instance", store=StoreConfig(url), wilayah_csv=DEFAULT_WILAYAH_CSV,
                        secret_key="bench-key", max_body_bytes=65536)
    init_store(settings)
    return settings


def fill(settings: Settings, events: int, *, seed: int = 1, base: int = BASE_EVENTS, said=lambda head: None) -> int:
    """About `events` events: `base` through the application service, the rest copies of their
    case streams. Returns the store's head."""
    services = bootstrap(settings)
    try:
        generate(services.cases, min(base, events), seed=seed, show_progress=False)
        return copy_case_streams(services.cases, settings.audit_key(), events, said=said)
    finally:
        services.close()


def grow(settings: Settings, events: int, *, until: int | None, said=lambda head: None) -> int:
    """Up to about `events` events, by copying the case streams as they stood at position `until`
    (None: now): every case then has copies of the shape it had then. Returns the store's head."""
    services = bootstrap(settings)
    try:
        return copy_case_streams(services.cases, settings.audit_key(), events, until=until, said=said)
    finally:
        services.close()


def _schema(settings: Settings) -> str:
    return settings.store.url.split("schema=")[1]


def settle(settings: Settings) -> None:
    """After a bulk load PostgreSQL has dead rows and no visibility map, and autovacuum would
    run in the middle of the measurements; an operator vacuums after an import, so does this."""
    if settings.store.kind == "postgres":
        schema = _schema(settings)
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))]
            for table in tables:
                conn.execute(f'VACUUM (ANALYZE) "{schema}"."{table}"')


def drop(settings: Settings) -> None:
    if settings.store.kind == "postgres":
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {_schema(settings)} CASCADE")


def open_case_shapes(settings: Settings, pillar: str = "pkh") -> list[tuple[str, int, str]]:
    """(case id, version, status) of every open case of the pillar."""
    readers = Readers(settings.store)
    try:
        with readers.connection() as conn:
            return [tuple(r) for r in conn.all("SELECT case_id, version, status FROM view_cases "
                                               "WHERE status <> 'closed' AND pillar = ? ORDER BY case_id",
                                               (pillar,))]
    finally:
        readers.close()


def open_cases(settings: Settings, count: int, pillar: str = "pkh") -> list[str]:
    return [case_id for case_id, _, _ in open_case_shapes(settings, pillar)[:count]]


def cases_shaped_like(settings: Settings, shapes: list[tuple[str, int, str]], pillar: str = "pkh",
                      exclude: list[str] = ()) -> list[str]:
    """For each given case, another open case with as many events and the same status, none of
    them the given ones (nor `exclude`): writes at the small and the large store then meet cases
    of one shape, and only the store's size differs."""
    taken = {case_id for case_id, _, _ in shapes} | set(exclude)
    free: dict[tuple[int, str], list[str]] = {}
    for case_id, version, status in open_case_shapes(settings, pillar):
        if case_id not in taken:
            free.setdefault((version, status), []).append(case_id)
    chosen = []
    for _, version, status in shapes:
        # The nearest version of the same status when no case has exactly as many events.
        candidates = sorted((k for k, ids in free.items() if k[1] == status and ids), key=lambda k: abs(k[0] - version))
        if not candidates:
            raise RuntimeError(f"no open {pillar} case left shaped like version {version}, {status}: "
                               "the store is too small for the targets asked of it (raise BENCH_EVENTS)")
        chosen.append(free[candidates[0]].pop())
    return chosen
