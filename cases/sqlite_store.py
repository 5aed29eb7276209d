"""eventsourcing's SQLite persistence, with the write-ahead log checkpointed where requests
do not pay for it.

A commit that leaves the log longer than a connection's `wal_autocheckpoint` pages copies the
log back into the database file, then and there. With a million events the pages a batch of
events dirties are scattered over the file (case ids are random), so a checkpoint is costly;
the longer the log between checkpoints, the more often one page was written several times and
is copied once. The projection process checkpoints every PROJECTION_CHECKPOINT_PAGES; every
other connection only at STORE_CHECKPOINT_PAGES, a backstop for when no projection process
runs, so that a request is not the one that pays."""

from eventsourcing.sqlite import SQLiteConnection, SQLiteConnectionPool, SQLiteFactory

PROJECTION_CHECKPOINT_PAGES = 10_000  # 4 KiB pages: about 40 MB of log
STORE_CHECKPOINT_PAGES = 4 * PROJECTION_CHECKPOINT_PAGES


def checkpoint_pragma(pages: int) -> str:
    return f"PRAGMA wal_autocheckpoint = {int(pages)}"


class _Pool(SQLiteConnectionPool):
    def _create_connection(self) -> SQLiteConnection:
        connection = super()._create_connection()
        connection.cursor().execute(checkpoint_pragma(STORE_CHECKPOINT_PAGES))
        return connection


class PilarSQLiteFactory(SQLiteFactory):
    def __init__(self, env):
        super().__init__(env)
        made = self.datastore.pool
        self.datastore.pool = _Pool(db_name=made.db_name, lock_timeout=made.lock_timeout, pool_size=made.pool_size,
                                    max_overflow=made.max_overflow, pool_timeout=made.pool_timeout,
                                    max_age=made.max_age, pre_ping=made.pre_ping)
        made.close()
