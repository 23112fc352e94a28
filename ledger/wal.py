"""SQLite's write-ahead log, copied back into the database by a background thread.

By default the commit that happens to fill the log past 1,000 pages copies it back into the
database and syncs that file before it returns: the one command in fifty or so that pays it
waited 10 ms instead of 2–3 (it was the whole p99 of recording one action, and of `case show`,
whose read-audit entry is a commit). Here the store's own connections never do that
(`wal_autocheckpoint=0`); a thread with a connection of its own copies whatever the log
holds back every `INTERVAL` seconds, in PASSIVE mode, which never blocks a writer or a
reader (copying nothing costs a look at the log's index). Nothing about durability changes: each commit still syncs
the log, and a log not yet copied back is read and recovered as before. When the store
closes, the thread stops; the last connection to close copies back what is left, as SQLite
always does.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from typing import Any

from eventsourcing.sqlite import SQLiteConnection, SQLiteDatastore

log = logging.getLogger(__name__)

INTERVAL = 0.5
"""Seconds between the thread's looks at the log."""


def without_autocheckpoint(datastore: SQLiteDatastore) -> None:
    """Every connection the datastore's pool opens from now on leaves the log to the thread."""
    pool: Any = datastore.pool
    create = pool._create_connection  # the library has no hook for a new connection

    def create_without() -> SQLiteConnection:
        connection: SQLiteConnection = create()
        connection._sqlite_conn.execute("PRAGMA wal_autocheckpoint=0")
        return connection

    pool._create_connection = create_without


class Checkpointer:
    """A daemon thread that copies the log of one SQLite file back into it, now and then."""

    def __init__(self, path: str, interval: float | None = None) -> None:
        self.path, self.interval = path, INTERVAL if interval is None else interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bti-wal-checkpoint", daemon=True)

    def start(self) -> Checkpointer:
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        """Stop the thread and wait for it (at most one checkpoint's time)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        try:
            connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        except sqlite3.Error:
            log.exception("the log of %s cannot be copied back by a thread", self.path)
            return
        try:
            while not self._stop.wait(self.interval):
                self.checkpoint(connection)
        finally:
            connection.close()

    def checkpoint(self, connection: sqlite3.Connection) -> tuple[int, int]:
        """Copy back what the log holds; (pages in the log, pages copied back), or (0, 0)
        if SQLite was busy (the next look tries again)."""
        try:
            row = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error:
            # The file went away, or is locked for long: SQLite stays correct without us.
            log.debug("checkpoint of %s skipped", self.path, exc_info=True)
            return 0, 0
        return (0, 0) if row is None or row[0] else (int(row[1]), int(row[2]))
