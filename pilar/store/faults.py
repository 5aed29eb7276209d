"""The errors that mean "the store cannot be reached just now" (PostgreSQL refusing or dropping
connections, a pool with none to give): worth answering 503 and trying again, never a reason to
exit."""

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError
from psycopg_pool import PoolTimeout

from pilar.store.config import StoreConfig

STORE_UNREACHABLE = (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout, OperationalError, InterfaceError)


def check_reachable(store: StoreConfig) -> None:
    """One connection opened and closed (PostgreSQL; SQLite is a file), raising one of
    STORE_UNREACHABLE if the store does not answer. Whoever retries building the services asks
    this first: a build that fails half-way leaves eventsourcing's connection pool open, still
    trying to connect in the background, one more with every attempt."""
    if store.kind != "postgres":
        return
    from pilar.store.postgres import connect_kwargs

    psycopg.connect(store.conninfo(), **connect_kwargs(store)).close()
