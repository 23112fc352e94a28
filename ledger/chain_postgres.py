"""The hash chain's recorder for PostgreSQL (the chain itself: `ledger/chain.py`)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.utils import retry
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from ledger import chain
from ledger.chain import CHAIN_TABLE, GENESIS, BeforeSave, WithinSave, as_uuid, first_versions

log = logging.getLogger(__name__)


class ChainedPostgresApplicationRecorder(PostgresApplicationRecorder):
    """PostgreSQL's application recorder that writes each event's chain row in its transaction.

    A save is two round trips in psycopg's pipeline mode: the library's `LOCK TABLE … IN
    EXCLUSIVE MODE`, the events' INSERT and the read of the chain heads, then the chain rows
    and the COMMIT.
    """

    def __init__(
        self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"
    ) -> None:
        if datastore.enable_db_functions:
            # The database function inserts without the table lock: chain heads could race.
            raise ValueError("the hash chain needs POSTGRES_ENABLE_DB_FUNCTIONS off")
        super().__init__(datastore, events_table_name=events_table_name)
        self.chain_table = CHAIN_TABLE
        schema, chain = Identifier(datastore.schema), Identifier(CHAIN_TABLE)
        # The library's INSERT takes one array of a composite type, which psycopg can only
        # send as text: escaping every event's state by regular expressions took most of a
        # bulk import's time. The same rows as four arrays go in binary, as they are. The
        # RETURNING says which row got which id, so the chain never depends on its order.
        self._insert_rows_statement = SQL(
            "INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%b::{id_type}[], %b::bigint[], %b::text[], %b::bytea[]) "
            "RETURNING notification_id, originator_id, originator_version"
        ).format(
            schema=schema, table=Identifier(self.events_table_name),
            id_type=Identifier(datastore.originator_id_type),
        )
        self.sql_create_statements += [
            SQL(
                "CREATE TABLE IF NOT EXISTS {schema}.{chain} ("
                "position bigint PRIMARY KEY, "
                "stream_id uuid NOT NULL, "
                "version bigint NOT NULL, "
                "event_id uuid, "
                "event_hash bytea NOT NULL, "
                "case_hash bytea NOT NULL, "
                "ledger_hash bytea NOT NULL)"
            ).format(schema=schema, chain=chain),
            SQL(
                "CREATE UNIQUE INDEX IF NOT EXISTS {index} ON {schema}.{chain} (stream_id, version)"
            ).format(index=Identifier(f"{CHAIN_TABLE}_stream_idx"), schema=schema, chain=chain),
        ]
        # Both heads in one statement: the ledger's (stream_id NULL), then each stream's.
        # One index probe per stream (LATERAL … LIMIT 1): the prepared statement's generic
        # plan for a join with DISTINCT ON read the whole chain table, and a one-event save
        # took 30–60 ms on a ledger of 150k events.
        self._select_heads = SQL(
            "(SELECT NULL::uuid AS stream_id, ledger_hash AS hash FROM {schema}.{chain} "
            "ORDER BY position DESC LIMIT 1) "
            "UNION ALL "
            "(SELECT w.stream_id, h.case_hash AS hash "
            "FROM unnest(%s::uuid[], %s::bigint[]) AS w(stream_id, version) "
            "CROSS JOIN LATERAL (SELECT c.case_hash FROM {schema}.{chain} AS c "
            "WHERE c.stream_id = w.stream_id AND c.version < w.version "
            "ORDER BY c.version DESC LIMIT 1) AS h)"
        ).format(schema=schema, chain=chain)
        self._insert_links_statement = SQL(
            "INSERT INTO {schema}.{chain} (position, stream_id, version, event_id, event_hash, "
            "case_hash, ledger_hash) "
            "SELECT * FROM unnest(%b::bigint[], %b::uuid[], %b::bigint[], %b::text[]::uuid[], "
            "%b::bytea[], %b::bytea[], %b::bytea[])"
        ).format(schema=schema, chain=chain)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """Insert the events and their chain rows in one transaction, or neither.

        The library's own `insert_events` keeps an exception from leaving its transaction
        block (and commits whatever went in before it); here any failure, the chain's too,
        leaves the block and rolls the whole save back.
        """
        if not stored_events:
            return []
        return self._in_one_transaction([stored_events], **kwargs)

    def insert_event_batches(self, batches: Iterable[Sequence[StoredEvent]]) -> int:
        """Insert every batch with its chain rows in one transaction (a large import): each
        batch's heads are read after the one before went in, so the chain runs on. Not
        retried: the batches are made as they are sent, and an import can be run again."""
        return len(self._in_one_transaction(batches))

    def _in_one_transaction(
        self, batches: Iterable[Sequence[StoredEvent]], **kwargs: Any
    ) -> list[int]:
        """The batches' events and chain rows under the table lock, committed together."""
        failure: Exception | None = None
        positions: list[int] = []
        with self.datastore.get_connection() as conn:
            with conn.pipeline():
                try:
                    with conn.transaction():
                        with conn.cursor() as curs:
                            self._lock_table(curs)
                            self._notify_channel(curs)
                            before: BeforeSave | None = kwargs.get("before")
                            if before is not None:
                                before(curs)
                        for stored_events in batches:
                            with conn.cursor() as curs:
                                self._insert_events(curs, stored_events, **kwargs)
                            positions += self._insert_batch(conn, stored_events)
                        within: WithinSave | None = kwargs.get("within")
                        if within is not None:
                            self._within_savepoint(conn, within, positions)
                    # Leaving the pipeline sends the COMMIT and flushes to the end too.
                except Exception as error:  # re-raised once the pipeline is closed
                    failure = error
            if failure is not None:
                raise failure
        return positions

    @staticmethod
    def _within_savepoint(conn: Any, within: WithinSave, positions: list[int]) -> None:
        """Run `within` under a savepoint: if it fails, its writes are undone, the events not.

        In the pipeline an error surfaces at the first fetch after it, so what was sent
        before is answered first, and `within`'s own statements inside the savepoint. Else an
        error of the chain rows would be taken for `within`'s and passed over, and the COMMIT
        of the failed transaction would roll everything back without a word.
        """
        with conn.cursor(row_factory=tuple_row) as answered:
            answered.execute("SELECT 1").fetchall()
            try:
                with conn.transaction(), conn.cursor() as cursor:
                    within(cursor, positions)
                    cursor.execute("SELECT 1").fetchall()
            except Exception:
                log.exception("the work within a save failed and was undone; the events are stored")
                # Raises if the transaction itself is lost: the save then fails as a whole.
                answered.execute("SELECT 1").fetchall()

    def _insert_batch(self, conn: Any, stored_events: Sequence[StoredEvent]) -> list[int]:
        """One batch's events, then the chain heads as they now stand, then its chain rows."""
        if not stored_events:
            return []
        firsts = first_versions(stored_events)
        rows = (
            [e.originator_id for e in stored_events],
            [e.originator_version for e in stored_events],
            [e.topic for e in stored_events],
            [e.state for e in stored_events],
        )
        with (
            conn.cursor(row_factory=tuple_row) as inserted,
            conn.cursor(row_factory=tuple_row) as heads,
        ):
            inserted.execute(self._insert_rows_statement, rows)
            # Read under the lock taken first: the heads every other writer left (each
            # statement sees what was committed before it began) and this transaction's own.
            heads.execute(
                self._select_heads, (list(firsts), list(firsts.values())), prepare=True,
            )
            # Fetch, never `pipeline.sync()`, to end the first round trip. psycopg's sync
            # (3.3.9, C and Python alike) stops sending once its queue of commands is empty
            # even if PQflush said libpq's output buffer is not yet empty, then only reads;
            # with an INSERT of more than about 10 MB (10,000–20,000 ledger events) the
            # server waits for the rest of the message (ClientRead) and psycopg for the
            # server's results, for ever: a big import hung. A fetch flushes to the end
            # first (`send` until PQflush is 0), and a version clash still raises its
            # IntegrityError here.
            positions = self._positions(inserted.fetchall(), stored_events)
            links = self._links(heads.fetchall(), stored_events, positions)
            inserted.execute(self._insert_links_statement, links, prepare=True)
        return positions

    @staticmethod
    def _positions(
        returned: list[tuple[Any, ...]], stored_events: Sequence[StoredEvent]
    ) -> list[int]:
        """Each stored event's notification id, from the INSERT's RETURNING rows."""
        if len(returned) == len(stored_events) and all(
            row[2] == e.originator_version and row[1] == e.originator_id
            for row, e in zip(returned, stored_events, strict=True)
        ):
            return [row[0] for row in returned]  # in the order given, as PostgreSQL does now
        ids = {(row[1], row[2]): row[0] for row in returned}
        return [ids[(as_uuid(e.originator_id), e.originator_version)] for e in stored_events]

    @staticmethod
    def _links(
        heads: list[tuple[Any, ...]], stored_events: Sequence[StoredEvent], positions: list[int]
    ) -> tuple[list[Any], ...]:
        """The chain rows of the events as the INSERT's seven columns."""
        ledger_head, case_heads = GENESIS, {}
        for stream_id, head in heads:
            if stream_id is None:
                ledger_head = bytes(head)
            else:
                case_heads[stream_id] = bytes(head)
        links = chain.chain_links(stored_events, positions, ledger_head, case_heads)
        return tuple(list(column) for column in zip(*links, strict=True))


