"""SQLite's log is copied back into the database by the store's thread, never by a command.

The teacher's command used to wait 10 ms whenever its commit happened to fill SQLite's log
(issue 7: the whole p99 of recording one action); the durability of a commit is the same.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from benchmarks.generate import Scenario, write_jsonl
from ledger import wal
from ledger.store import EventStoreApplication, environment_for, open_store
from ledger.transfer import import_into, read_lines
from tests.test_benchmarks import NOW

PAGE = 4096
"""SQLite's page size here; in WAL mode only copying the log back writes the database file."""


def test_a_large_import_leaves_the_log_to_the_thread_not_to_its_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "bti.sqlite"
    town = tmp_path / "town.jsonl"
    write_jsonl(town, Scenario(cases=500, seed=5, now=NOW))
    monkeypatch.setattr(wal, "INTERVAL", 3600.0)  # the store's own thread waits all test

    store = open_store(f"sqlite:///{database}")
    try:
        # Thousands of pages in one commit: past SQLite's threshold of 1,000.
        import_into(store, datetime.fromtimestamp(NOW, UTC), read_lines(town))
        with store.recorder.datastore.transaction(commit=False) as cursor:  # type: ignore[attr-defined]
            cursor.execute("PRAGMA wal_autocheckpoint")
            (autocheckpoint,) = cursor.fetchone()

        assert autocheckpoint == 0
        log_pages = Path(f"{database}-wal").stat().st_size // PAGE
        assert log_pages > 1000  # SQLite's own threshold: a commit would have copied it back
        assert database.stat().st_size < log_pages * PAGE // 2

        thread = wal.Checkpointer(str(database), interval=0.05).start()
        try:
            deadline = time.monotonic() + 20
            while database.stat().st_size < log_pages * PAGE // 2:
                assert time.monotonic() < deadline, "the thread never copied the log back"
                time.sleep(0.05)
        finally:
            thread.stop()
    finally:
        store.close()


def test_closing_the_store_stops_its_thread(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'bti.sqlite'}")
    checkpointer = store.checkpointer
    assert checkpointer is not None and checkpointer.running

    store.close()

    assert not checkpointer.running


def test_a_store_that_only_reads_copies_no_log_back(tmp_path: Path) -> None:
    """A rebuild's workers only read: the writing store's thread copies the log back."""
    url = f"sqlite:///{tmp_path / 'bti.sqlite'}"
    open_store(url).close()  # the ledger's tables exist

    reading = EventStoreApplication(env=environment_for(url), writes=False)
    try:
        assert reading.checkpointer is None
    finally:
        reading.close()
