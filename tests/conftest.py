"""The shared fixtures (testkit/fixtures.py): every store-touching test runs on SQLite and PostgreSQL."""

from testkit.fixtures import *  # noqa: F401,F403
