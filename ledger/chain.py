"""The hash chain written with the events: each stored event linked to the one before it.

Every stored event gets one row in the chain table (`bti_chain`), written by the recorder in
the same transaction as the event itself, so an event is never stored without its link and a
link never without its event. A row holds:

- `position` — the event's notification id (its place in the whole ledger),
- `stream_id`, `version`, `event_id` — which event it is (`event_id` read from the stored
  JSON; empty if the bytes are not JSON, e.g. encrypted),
- `event_hash` — SHA-256 over the exact bytes stored: stream id, version, topic and state
  (see `event_hash`), so encrypted state is chained as encrypted and deleting a key later
  breaks nothing,
- `case_hash` — `link(case_hash of the stream's previous event, event_hash)`: the chain of
  one case (stream), in version order,
- `ledger_hash` — `link(ledger_hash of the previous row, event_hash)`: the chain of the
  whole ledger, in position order.

The first event of a stream and of the ledger links to `GENESIS` (32 zero bytes). Positions
are not hashed, so PostgreSQL's gaps change nothing. Personal fields are stored sealed with
a fresh nonce under the case's key (`ledger/encryption.py`), so an export imported into
another ledger gets the same events but other bytes, and so other hashes.

Heads are read inside the inserting transaction, after the events are inserted, so they are
the heads every other writer left: PostgreSQL's recorder takes `LOCK TABLE … IN EXCLUSIVE
MODE` on the events table before it inserts (eventsourcing's `_lock_table`; the chained
recorder refuses `POSTGRES_ENABLE_DB_FUNCTIONS`, which drops that lock), and SQLite lets one
writer at a time hold the database's write lock from its first INSERT to its commit.

Anyone who can write to the database can recompute a chain from some point on; what shows
that is a signed checkpoint of the head held by someone else (`replay/checkpoint.py`,
`docs/tilsyn.md`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteDatastore
from eventsourcing.utils import retry
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

CHAIN_TABLE = "bti_chain"
GENESIS = bytes(32)
"""What the first event of a stream, and of the ledger, links to."""

_DOMAIN = b"bti-ledger event v1\x00"
"""Prefixed to every event hash, so a hash of this chain is never a hash of anything else."""


def event_hash(stream_id: UUID, version: int, topic: str, state: bytes) -> bytes:
    """SHA-256 over one stored event's exact bytes: stream id, version, topic, state.

    Fixed-length fields first and the topic's length before it, so no two different rows
    give the same input.
    """
    return event_hash_of(stream_id.bytes, version, topic, state)


def event_hash_of(stream_id: bytes, version: int, topic: str, state: bytes) -> bytes:
    """`event_hash` with the stream id as its 16 bytes (what a verifier reads fastest)."""
    topic_bytes = topic.encode("utf-8")
    return hashlib.sha256(
        b"".join((
            _DOMAIN,
            stream_id,
            version.to_bytes(8, "big", signed=True),
            len(topic_bytes).to_bytes(4, "big"),
            topic_bytes,
            state,
        ))
    ).digest()


def link(previous: bytes, this_event: bytes) -> bytes:
    """The next hash of a chain: SHA-256 of the previous hash and this event's hash."""
    return hashlib.sha256(previous + this_event).digest()


@dataclass(frozen=True)
class ChainLink:
    """One row of the chain table."""

    position: int
    stream_id: UUID
    version: int
    event_id: UUID | None
    event_hash: bytes
    case_hash: bytes
    ledger_hash: bytes


def event_id_of(state: bytes) -> UUID | None:
    """The `event_id` of the stored JSON, or None if the bytes are not the ledger's JSON."""
    try:
        values = orjson.loads(state)
        return UUID(str(values["event_id"]))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def as_uuid(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def chain_links(
    stored: Sequence[StoredEvent],
    positions: Sequence[int],
    ledger_head: bytes,
    case_heads: dict[UUID, bytes],
) -> list[ChainLink]:
    """The chain rows for events just inserted at `positions`, following the given heads.

    `case_heads` holds each stream's head before this insert (a stream not in it starts at
    GENESIS); it is not changed.
    """
    heads = dict(case_heads)
    links: list[ChainLink] = []
    ordered = sorted(zip(positions, stored, strict=True), key=lambda pair: pair[0])
    for position, event in ordered:
        stream_id = as_uuid(event.originator_id)
        digest = event_hash(stream_id, event.originator_version, event.topic, event.state)
        case_hash = link(heads.get(stream_id, GENESIS), digest)
        ledger_head = link(ledger_head, digest)
        heads[stream_id] = case_hash
        links.append(
            ChainLink(
                position, stream_id, event.originator_version, event_id_of(event.state),
                digest, case_hash, ledger_head,
            )
        )
    return links


def first_versions(stored: Iterable[StoredEvent]) -> dict[UUID, int]:
    """Each stream's lowest version among `stored`: the one that links to the stored head."""
    found: dict[UUID, int] = {}
    for event in stored:
        stream_id = as_uuid(event.originator_id)
        version = event.originator_version
        if stream_id not in found or version < found[stream_id]:
            found[stream_id] = version
    return found


# ---- SQLite ------------------------------------------------------------------------------


class ChainedSQLiteApplicationRecorder(SQLiteApplicationRecorder):
    """SQLite's application recorder that writes each event's chain row in its transaction."""

    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name)
        self.chain_table = CHAIN_TABLE

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {CHAIN_TABLE} ("
            "position INTEGER PRIMARY KEY, "
            "stream_id TEXT NOT NULL, "
            "version INTEGER NOT NULL, "
            "event_id TEXT, "
            "event_hash BLOB NOT NULL, "
            "case_hash BLOB NOT NULL, "
            "ledger_hash BLOB NOT NULL)",
            f"CREATE UNIQUE INDEX IF NOT EXISTS {CHAIN_TABLE}_stream "
            f"ON {CHAIN_TABLE} (stream_id, version)",
        ]

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        # The events go in first: the first INSERT takes SQLite's write lock, so the heads
        # read below are the latest and stay so until this transaction commits.
        positions = super()._insert_events(c, stored_events, **kwargs)
        if not stored_events or positions is None:
            return positions
        c.execute(f"SELECT ledger_hash FROM {CHAIN_TABLE} ORDER BY position DESC LIMIT 1")
        row = c.fetchone()
        ledger_head = bytes(row[0]) if row is not None else GENESIS
        case_heads: dict[UUID, bytes] = {}
        for stream_id, version in first_versions(stored_events).items():
            c.execute(
                f"SELECT case_hash FROM {CHAIN_TABLE} WHERE stream_id = ? AND version < ? "
                "ORDER BY version DESC LIMIT 1",
                (stream_id.hex, version),
            )
            head = c.fetchone()
            if head is not None:
                case_heads[stream_id] = bytes(head[0])
        links = chain_links(stored_events, positions, ledger_head, case_heads)
        c.executemany(
            f"INSERT INTO {CHAIN_TABLE} (position, stream_id, version, event_id, event_hash, "
            "case_hash, ledger_hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    k.position, k.stream_id.hex, k.version,
                    None if k.event_id is None else str(k.event_id),
                    k.event_hash, k.case_hash, k.ledger_hash,
                )
                for k in links
            ],
        )
        return positions


# ---- PostgreSQL --------------------------------------------------------------------------


class ChainedPostgresApplicationRecorder(PostgresApplicationRecorder):
    """PostgreSQL's application recorder that writes each event's chain row in its transaction.

    The rows are written after the library's `LOCK TABLE … IN EXCLUSIVE MODE` and its INSERT,
    in the same transaction, with one statement for all of a save's rows.
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
        # Which row got which id, so the chain never depends on RETURNING's row order.
        self.insert_events_statement += SQL(", originator_id, originator_version")
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
        # Both heads in one round trip: the ledger's (stream_id NULL), then each stream's.
        self._select_heads = SQL(
            "(SELECT NULL::uuid AS stream_id, ledger_hash AS hash FROM {schema}.{chain} "
            "ORDER BY position DESC LIMIT 1) "
            "UNION ALL "
            "(SELECT DISTINCT ON (c.stream_id) c.stream_id, c.case_hash AS hash "
            "FROM {schema}.{chain} AS c "
            "JOIN unnest(%s::uuid[], %s::bigint[]) AS w(stream_id, version) "
            "ON c.stream_id = w.stream_id AND c.version < w.version "
            "ORDER BY c.stream_id, c.version DESC)"
        ).format(schema=schema, chain=chain)
        self._insert_links_statement = SQL(
            "INSERT INTO {schema}.{chain} (position, stream_id, version, event_id, event_hash, "
            "case_hash, ledger_hash) "
            "SELECT * FROM unnest(%s::bigint[], %s::uuid[], %s::bigint[], %s::uuid[], "
            "%s::bytea[], %s::bytea[], %s::bytea[])"
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
        failure: Exception | None = None
        positions: list[int] = []
        with self.datastore.get_connection() as conn:
            with conn.pipeline() as pipeline:
                try:
                    with conn.transaction():
                        with conn.cursor() as curs:
                            self._insert_events(curs, stored_events, **kwargs)
                        with conn.cursor() as curs:
                            self._insert_stored_events(curs, stored_events, **kwargs)
                            # Sync now, so a version clash is an IntegrityError here.
                            pipeline.sync()
                            positions = self._insert_links(curs, stored_events)
                except Exception as error:  # re-raised once the pipeline is closed
                    failure = error
            if failure is not None:
                raise failure
        return positions

    def _insert_links(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent]
    ) -> list[int]:
        """Write the chain rows of the events the cursor just inserted; their positions."""
        ids = {
            (as_uuid(r["originator_id"]), int(r["originator_version"])): int(r["notification_id"])
            for r in curs.fetchall()
        }
        positions = [ids[(as_uuid(e.originator_id), e.originator_version)] for e in stored_events]
        firsts = first_versions(stored_events)
        curs.execute(self._select_heads, (list(firsts), list(firsts.values())), prepare=True)
        ledger_head, case_heads = GENESIS, {}
        for row in curs.fetchall():
            if row["stream_id"] is None:
                ledger_head = bytes(row["hash"])
            else:
                case_heads[as_uuid(row["stream_id"])] = bytes(row["hash"])
        links = chain_links(stored_events, positions, ledger_head, case_heads)
        curs.execute(
            self._insert_links_statement,
            (
                [k.position for k in links], [k.stream_id for k in links],
                [k.version for k in links], [k.event_id for k in links],
                [k.event_hash for k in links], [k.case_hash for k in links],
                [k.ledger_hash for k in links],
            ),
            prepare=True,
        )
        return positions


def recorder_topic(persistence_module: str) -> str | None:
    """The chained recorder's topic for an eventsourcing persistence module, if there is one."""
    if persistence_module.endswith("sqlite"):
        return f"{__name__}:{ChainedSQLiteApplicationRecorder.__name__}"
    if persistence_module.endswith("postgres"):
        return f"{__name__}:{ChainedPostgresApplicationRecorder.__name__}"
    return None
