"""The eventsourcing library's own recorder guarantees, held by the ledger's store settings.

The library ships its recorder specifications as unittest cases (`eventsourcing.tests.
persistence`). Here they run against recorders built exactly as the ledger builds them:
`EventStoreApplication(env=environment_for(url))`, on a SQLite file and on a PostgreSQL
schema, each test on a database of its own that is removed afterwards. What they hold us
to: events read back as written, a version clash is an IntegrityError and stores nothing,
notification ids come in order and never interleave between two saves, concurrent writers
and readers do not fail, and a projection's tracking position never goes back.
"""

from __future__ import annotations

import threading

import pytest
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    ProcessRecorder,
    TrackingRecorder,
)
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresFactory,
    PostgresProcessRecorder,
    PostgresTrackingRecorder,
)
from eventsourcing.sqlite import (
    SQLiteAggregateRecorder,
    SQLiteApplicationRecorder,
    SQLiteFactory,
    SQLiteProcessRecorder,
    SQLiteTrackingRecorder,
)
from eventsourcing.tests import persistence as library
from eventsourcing.utils import Environment

from ledger.store import EventStoreApplication, environment_for


class OnLedgerStore:
    """Recorders made by the ledger's own store, on the database the fixture gives."""

    url: str

    def open_store(self) -> EventStoreApplication:
        """The ledger's event store application, closed when the test ends."""
        store = EventStoreApplication(env=environment_for(self.url))
        self.addCleanup(close_after_readers, store)  # type: ignore[attr-defined]
        return store


def close_after_readers(store: EventStoreApplication) -> None:
    """Close the store once the library's reader threads have stopped.

    The library's concurrency case tells its reader threads to stop but does not wait for
    them; closing a SQLite connection while a thread is inside a query crashes the process.
    """
    for thread in threading.enumerate():
        if "read_continuously" in thread.name:
            thread.join(timeout=10)
    store.close()


class OnSQLite(OnLedgerStore):
    """A fresh SQLite file per test, as `sqlite:///path` gives it."""

    @pytest.fixture(autouse=True)
    def _database(self, sqlite_url: str) -> None:
        self.url = sqlite_url


class OnPostgres(OnLedgerStore):
    """A fresh PostgreSQL schema per test, as `postgresql://…?schema=` gives it; dropped after.

    The fixture fails (not skips) when CI=true and PostgreSQL cannot be reached.
    """

    @pytest.fixture(autouse=True)
    def _database(self, postgres_url: str) -> None:
        self.url = postgres_url


# ---- the aggregate recorder (what snapshots are kept in) -------------------------------
# The library's cases are mixed in only in the concrete classes: pytest collects every
# unittest.TestCase it finds in the module, so none may stand here half-built.


class SnapshotRecorder(OnLedgerStore):
    def create_recorder(self) -> AggregateRecorder:
        return self.open_store().factory.aggregate_recorder(purpose="snapshots")


class TestAggregateRecorderOnSQLite(OnSQLite, SnapshotRecorder, library.AggregateRecorderTestCase):
    pass


class TestAggregateRecorderOnPostgres(
    OnPostgres, SnapshotRecorder, library.AggregateRecorderTestCase
):
    pass


# ---- the application recorder (the event log itself) -----------------------------------


class EventLogRecorder(OnLedgerStore):
    def create_recorder(self) -> ApplicationRecorder:
        return self.open_store().recorder


class TestApplicationRecorderOnSQLite(
    OnSQLite, EventLogRecorder, library.ApplicationRecorderTestCase
):
    @pytest.mark.skip(
        reason="SQLite's recorder has no subscribe(): projections on SQLite poll "
        "select_notifications instead (ARCHITECTURE.md)"
    )
    def test_insert_subscribe(self) -> None:
        """Not offered by the library on SQLite."""


class TestApplicationRecorderOnPostgres(
    OnPostgres, EventLogRecorder, library.ApplicationRecorderTestCase
):
    def test_insert_subscribe(self) -> None:
        self.optional_test_insert_subscribe()


class TestNotificationIdsDoNotInterleaveOnSQLite(
    OnSQLite, EventLogRecorder, library.NonInterleavingNotificationIDsBaseCase
):
    """Two saves racing get notification ids that do not interleave (a follower's order)."""


class TestNotificationIdsDoNotInterleaveOnPostgres(
    OnPostgres, EventLogRecorder, library.NonInterleavingNotificationIDsBaseCase
):
    """Two saves racing get notification ids that do not interleave (a follower's order)."""


# ---- the tracking recorder (where projections keep their position) ----------------------


class ProjectionTrackingRecorder(OnLedgerStore):
    def create_recorder(self) -> TrackingRecorder:
        return self.open_store().factory.tracking_recorder()


class TestTrackingRecorderOnSQLite(
    OnSQLite, ProjectionTrackingRecorder, library.TrackingRecorderTestCase
):
    pass


class TestTrackingRecorderOnPostgres(
    OnPostgres, ProjectionTrackingRecorder, library.TrackingRecorderTestCase
):
    pass


# ---- the infrastructure factory the settings select ------------------------------------


class LedgerSettings(OnLedgerStore):
    """`environment_for(url)` selects the library's factory and recorders for the database."""

    env: Environment

    def setUp(self) -> None:
        self.env = Environment(EventStoreApplication.name, environment_for(self.url))
        super().setUp()  # type: ignore[misc]


class TestInfrastructureFactoryOnSQLite(
    OnSQLite, LedgerSettings, library.InfrastructureFactoryTestCase[SQLiteFactory]
):
    def expected_factory_class(self) -> type[SQLiteFactory]:
        return SQLiteFactory

    def expected_aggregate_recorder_class(self) -> type[AggregateRecorder]:
        return SQLiteAggregateRecorder

    def expected_application_recorder_class(self) -> type[ApplicationRecorder]:
        return SQLiteApplicationRecorder

    def expected_tracking_recorder_class(self) -> type[TrackingRecorder]:
        return SQLiteTrackingRecorder

    def tracking_recorder_subclass(self) -> type[TrackingRecorder]:
        return SQLiteTrackingRecorderSubclass

    def expected_process_recorder_class(self) -> type[ProcessRecorder]:
        return SQLiteProcessRecorder


class TestInfrastructureFactoryOnPostgres(
    OnPostgres, LedgerSettings, library.InfrastructureFactoryTestCase[PostgresFactory]
):
    def expected_factory_class(self) -> type[PostgresFactory]:
        return PostgresFactory

    def expected_aggregate_recorder_class(self) -> type[AggregateRecorder]:
        return PostgresAggregateRecorder

    def expected_application_recorder_class(self) -> type[ApplicationRecorder]:
        return PostgresApplicationRecorder

    def expected_tracking_recorder_class(self) -> type[TrackingRecorder]:
        return PostgresTrackingRecorder

    def tracking_recorder_subclass(self) -> type[TrackingRecorder]:
        return PostgresTrackingRecorderSubclass

    def expected_process_recorder_class(self) -> type[ProcessRecorder]:
        return PostgresProcessRecorder


class SQLiteTrackingRecorderSubclass(SQLiteTrackingRecorder):
    """A tracking recorder of our own, as a projection may bring (the factory must accept it)."""


class PostgresTrackingRecorderSubclass(PostgresTrackingRecorder):
    """A tracking recorder of our own, as a projection may bring (the factory must accept it)."""
