"""The errors that mean "the store cannot be reached just now" (PostgreSQL refusing or dropping
connections, a pool with none to give): worth answering 503 and trying again, never a reason to
exit."""

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError
from psycopg_pool import PoolTimeout

STORE_UNREACHABLE = (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout, OperationalError, InterfaceError)
