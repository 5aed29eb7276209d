"""Only one projection process writes the views of a database; others wait as standbys.

The lock is the store's own (pilar/store/sqlite.py: a file lock beside the database file;
pilar/store/postgres.py: a session advisory lock on the very connection that writes the views, so a
leader that loses its connection also loses the right to write)."""

from pilar.store.connection import Connection


class Leadership:
    def __init__(self, conn: Connection, name: str = "projection"):
        self.conn = conn
        self.name = name

    def try_acquire(self) -> bool:
        return self.conn.try_exclusive(self.name)

    def release(self) -> None:
        self.conn.release_exclusive(self.name)
