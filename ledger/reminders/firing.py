"""One firer at a time: only one daemon issues and delivers reminders of a ledger at once.

Correctness does not rest on this (a reminder's id is derived from its deadline and stage,
so the ledger refuses a second one); it keeps two daemons from doing the same work twice
and from both delivering the same reminder in the same second.

- **PostgreSQL**: a session advisory lock (`pg_try_advisory_lock`) on a connection of its
  own, taken for each round of work and released after it. A daemon that does not get it
  skips that round; several daemons take turns, and when one dies (its connection closes)
  another takes over at its next round. The key is derived from the database and schema,
  so ledgers in other schemas do not block each other.
- **SQLite**: an exclusive `flock` on a lock file beside the database
  (`bti.sqlite-daemon-lock`), held for the daemon's whole life. A second daemon on the same
  file is refused at start-up with a message that names the lock file. The operating system
  releases it when the process ends, however it ends (SIGKILL too).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ledger.errors import LedgerError
from ledger.reminders.logs import note
from ledger.store import environment_for, redact

if TYPE_CHECKING:  # imported when a PostgreSQL lock is used: SQLite commands need none of it
    import psycopg


class FirerLock(Protocol):
    """Taken before a round of work; a daemon that does not get it leaves the round."""

    def acquire(self) -> bool:
        """True if this daemon may work now."""

    def release(self) -> None:
        """Let another daemon work."""

    def close(self) -> None:
        """Give the lock up for good."""


class LockFile:
    """SQLite: an exclusive lock on a file beside the database, for the daemon's whole life."""

    def __init__(self, database_file: Path) -> None:
        self.path = database_file.with_name(database_file.name + "-daemon-lock")
        self.fd: int | None = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            self.fd = None
            raise LedgerError("daemon_already_running", lock_file=self.path) from None
        os.ftruncate(self.fd, 0)
        os.write(self.fd, f"{os.getpid()}\n".encode())

    def acquire(self) -> bool:
        return self.fd is not None

    def release(self) -> None:
        pass  # held for the whole life of the daemon

    def close(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def advisory_key(database: str, schema: str) -> int:
    """A signed 64-bit key for `pg_try_advisory_lock`, the same in every process."""
    digest = hashlib.sha256(f"bti-ledger:reminder-daemon:{database}:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class AdvisoryLock:
    """PostgreSQL: a session advisory lock on a dedicated connection, for each round of work."""

    def __init__(self, url: str) -> None:
        env = environment_for(url)
        self.url = redact(url)
        self.conninfo = {
            "host": env["POSTGRES_HOST"], "port": env["POSTGRES_PORT"],
            "dbname": env["POSTGRES_DBNAME"], "user": env["POSTGRES_USER"],
            "password": env["POSTGRES_PASSWORD"] or None,
            "connect_timeout": env["POSTGRES_CONNECT_TIMEOUT"],
        }
        self.key = advisory_key(env["POSTGRES_DBNAME"], env.get("POSTGRES_SCHEMA", "public"))
        self.connection: psycopg.Connection[tuple[object, ...]] | None = None
        self.held = False

    def _connect(self) -> psycopg.Connection[tuple[object, ...]]:
        import psycopg  # noqa: PLC0415 - only a PostgreSQL ledger's daemon gets here

        if self.connection is None or self.connection.closed:
            params = {k: v for k, v in self.conninfo.items() if v is not None}
            self.connection = psycopg.connect(autocommit=True, **params)  # type: ignore[arg-type]
        return self.connection

    def acquire(self) -> bool:
        import psycopg  # noqa: PLC0415 - see _connect

        try:
            row = self._connect().execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
        except psycopg.OperationalError as error:
            # The connection broke (a database restart): a fresh one next round.
            note("lock_connection_lost", url=self.url, error=str(error).strip())
            self._drop()
            return False
        self.held = bool(row and row[0])
        return self.held

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        import psycopg  # noqa: PLC0415 - see _connect

        try:
            self._connect().execute("SELECT pg_advisory_unlock(%s)", (self.key,))
        except psycopg.OperationalError:
            self._drop()  # the session is gone, and its lock with it

    def _drop(self) -> None:
        if self.connection is not None:
            self.connection.close()
        self.connection = None
        self.held = False

    def close(self) -> None:
        self.release()
        self._drop()


def firer_lock(url: str) -> FirerLock:
    """The lock for the ledger at `url`: a lock file for SQLite, an advisory lock for PostgreSQL."""
    env = environment_for(url)
    if env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
        return LockFile(Path(env["SQLITE_DBNAME"]))
    return AdvisoryLock(url)
