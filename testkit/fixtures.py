"""Fixtures: every store-touching test runs once on SQLite and once on a real PostgreSQL.

PostgreSQL tests never skip: if the server is not reachable they fail, loudly. Each test gets
its own schema, so tests cannot see each other's events. The reliability suite shares them.
"""

import os
import time
import uuid
from contextlib import contextmanager, nullcontext
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from argon2 import PasswordHasher

from pilar.bootstrap import Services, bootstrap, init_store
from pilar.cases import passwords, users
from pilar.cases.access import SYSTEM, Actor
from pilar.cases.account import default_pii
from pilar.cases.wilayah import DEFAULT_WILAYAH_CSV
from pilar.projections.runner import Follower
from pilar.settings import Settings
from pilar.store.config import StoreConfig
from pilar.store.connection import ViewDB
from pilar.store.shredding import owed
from pilar.wsgi import create_app

POSTGRES_URL = os.environ.get("PILAR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
PASSWORD = "correct-horse-battery"
QUICK_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@pytest.fixture(scope="session", autouse=True)
def quick_passwords():
    """Accounts made in the test process are hashed with argon2 at its cheapest, and unknown users
    are checked against a hash as cheap: tests add and sign in users all the time, and full
    strength costs 0.1-0.8 s a hash here. Yields the product's own (hasher, dummy hash), which
    tests/test_accounts.py checks; servers and commands the tests start keep full strength."""
    production = (passwords._hasher, users._DUMMY_HASH)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(passwords, "_hasher", QUICK_HASHER)
        patch.setattr(users, "_DUMMY_HASH", QUICK_HASHER.hash("pilar-timing-equaliser"))
        yield production


def new_store_url(kind: str, directory: Path) -> str:
    """A fresh, empty store of `kind`: a SQLite file in `directory`, a new PostgreSQL schema, or
    ("postgres-database") a schema in a database of its own, which no other store's notifications
    reach (tests run side by side write to the shared one). Drop it with drop_store."""
    if kind == "sqlite":
        return f"sqlite:///{directory / 'pilar.db'}"
    schema = f"t_{uuid.uuid4().hex[:12]}"
    database = POSTGRES_URL
    if kind == "postgres-database":
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{schema}"')
        database = urlsplit(POSTGRES_URL)._replace(path=f"/{schema}").geturl()
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return f"{database}?schema={schema}&pool_size=4"


def own_database_store_url(kind: str, directory: Path):
    """A fresh store of `kind`, as a context; on PostgreSQL in a database of its own, so that no
    other session's transactions hold back what VACUUM may remove (the erasure tests)."""
    if kind == "sqlite":
        return nullcontext(new_store_url(kind, directory))
    return _own_database()


@contextmanager
def _own_database():
    name = f"pilar_own_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES_URL.rsplit('/', 1)[0]}/{name}?pool_size=4"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def drop_store(url: str) -> None:
    if "schema=" in url:
        schema = url.split("schema=")[1].split("&")[0]
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            if urlsplit(url).path == f"/{schema}":  # a database of its own
                conn.execute(f'DROP DATABASE "{schema}" WITH (FORCE)')
            else:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def settings_for(store_url: str, directory: Path) -> Settings:
    return Settings(
        instance_path=directory / "instance",
        store=StoreConfig(store_url),
        wilayah_csv=DEFAULT_WILAYAH_CSV,
        secret_key="test-signing-key",
        max_body_bytes=16 * 1024,
    )


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request, tmp_path: Path):
    url = new_store_url(request.param, tmp_path)
    try:
        yield url
    finally:
        drop_store(url)


@pytest.fixture
def settings(store_url: str, tmp_path: Path) -> Settings:
    return settings_for(store_url, tmp_path)


@pytest.fixture
def services(settings: Settings):
    init_store(settings)
    built = bootstrap(settings)
    yield built
    built.close()


@pytest.fixture
def service(services: Services):
    """The application service, as the composition root built it."""
    return services.cases


@pytest.fixture
def catch_up(settings, service):
    """catch_up() -> position: project and seal every stored event, as `pilar project` would."""
    conn = ViewDB(settings.store).connect()

    def run(batch_size: int = 100) -> int:
        follower = Follower(service, conn, settings.audit_key(), batch_size)
        while follower.step():
            pass
        return follower.position

    yield run
    conn.close()


@pytest.fixture
def shreds_settled(settings, catch_up):
    """shreds_settled(within=20) -> the erasure shreds still owed after the projection process's
    retries have had `within` seconds. A shred waits for every older transaction of its database,
    an autovacuum ANALYZE's too (pilar/store/shredding.py), so a test that reads the files after
    an erasure waits as an operator would, and names what held it back if it never settles."""
    conn = ViewDB(settings.store).connect()

    def run(within: float = 20.0) -> list[str]:
        deadline = time.monotonic() + within
        while True:
            catch_up()  # a new Follower retries every owed shred at its first step
            left = owed(conn)
            if not left or time.monotonic() >= deadline:
                return [shred.describe(time.time()) for shred in left]
            time.sleep(0.25)

    yield run
    conn.close()


# A small regency staff: one account per role, workers in two pillars.
STAFF = {
    "wati": ("worker", "pkh"),
    "agus": ("worker", "pkh"),
    "joko": ("worker", "tksk"),
    "sri": ("supervisor", "pkh"),
    "dinsos": ("supervisor", None),
    "inspektur": ("auditor", None),
    "root": ("admin", None),
}


@pytest.fixture
def staff(service) -> dict[str, Actor]:
    for name, (role, pillar) in STAFF.items():
        service.add_user(SYSTEM, name, role, pillar, PASSWORD)
    return {name: Actor(name, role, pillar, (), default_pii(role)) for name, (role, pillar) in STAFF.items()}


@pytest.fixture
def app(services: Services):
    return create_app(services)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def auth(client, staff):
    """auth("wati") -> headers carrying a fresh bearer token for that user."""
    tokens: dict[str, str] = {}

    def headers(username: str, **extra: str) -> dict[str, str]:
        if username not in tokens:
            response = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
            assert response.status_code == 200, response.json
            tokens[username] = response.json["token"]
        return {"Authorization": f"Bearer {tokens[username]}", **extra}

    return headers
