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
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from itertools import pairwise
from typing import Any, NamedTuple
from uuid import UUID

import orjson
from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteDatastore

from ledger.wal import without_autocheckpoint

log = logging.getLogger(__name__)

CHAIN_TABLE = "bti_chain"
GENESIS = bytes(32)
"""What the first event of a stream, and of the ledger, links to."""

BeforeSave = Callable[[Any], None]
"""Work a save does in its own transaction before its events go in (given as
`save(..., before=…)`), called with the recorder's cursor; if it fails, nothing is stored.
The ledger stores a new case's key so (`StagedKeys.store`), in the commit of its events."""

WithinSave = Callable[[Any, Sequence[int]], None]
"""Work a save does in its own transaction once its events and chain rows are in (given as
`save(..., within=…)`): called with the recorder's cursor and the events' notification ids,
under a savepoint, so that if it fails its writes are undone and the events are stored all
the same. The ledger refreshes its projections so (`SaveRefresh`): one commit per command."""

EVENT_HASH_DOMAIN = b"bti-ledger event v1\x00"
"""Prefixed to every event hash, so a hash of this chain is never a hash of anything else."""

_sha256 = hashlib.sha256


def event_hash(stream_id: UUID, version: int, topic: str, state: bytes) -> bytes:
    """SHA-256 over one stored event's exact bytes: stream id, version, topic, state.

    Fixed-length fields first and the topic's length before it, so no two different rows
    give the same input.
    """
    return event_hash_of(stream_id.bytes, version, topic, state)


def event_hash_of(stream_id: bytes, version: int, topic: str, state: bytes) -> bytes:
    """`event_hash` with the stream id as its 16 bytes (what a verifier reads fastest)."""
    return _sha256(
        b"".join((
            EVENT_HASH_DOMAIN, stream_id, version.to_bytes(8, "big", signed=True), _topic_field(topic), state
        ))
    ).digest()


_topic_fields: dict[str, bytes] = {}


def _topic_field(topic: str) -> bytes:
    """The topic as hashed, its length first; cached, as a ledger has a few dozen topics."""
    field = _topic_fields.get(topic)
    if field is None:
        encoded = topic.encode("utf-8")
        field = len(encoded).to_bytes(4, "big") + encoded
        if len(_topic_fields) < 1024:  # a store of arbitrary topics must not grow it forever
            _topic_fields[topic] = field
    return field


def link(previous: bytes, this_event: bytes) -> bytes:
    """The next hash of a chain: SHA-256 of the previous hash and this event's hash."""
    return _sha256(previous + this_event).digest()


class ChainLink(NamedTuple):
    """One row of the chain table (`event_id` as the stored JSON spells it, or None)."""

    position: int
    stream_id: UUID
    version: int
    event_id: str | None
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


_LEDGER_JSON_HEAD = re.compile(
    rb'\{"type":"[A-Za-z0-9_]*","schema_version":[0-9]+,'
    rb'"event_id":"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"'
)
"""How every event the ledger writes begins (its model's first fields, as orjson dumps them)."""


def event_id_text(state: bytes) -> str | None:
    """`event_id_of` as its canonical text, read from the start of the ledger's own JSON.

    Parsing the whole document was most of the chain's cost on a bulk import; the ledger's
    events all begin alike, so the id is read from there, and anything else is parsed.
    """
    found = _LEDGER_JSON_HEAD.match(state)
    if found is not None:
        return found.group(1).decode("ascii")
    event_id = event_id_of(state)
    return None if event_id is None else str(event_id)


def as_uuid(value: UUID | str) -> UUID:
    """The value as a UUID (the library hands ids over as either)."""
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
    pairs: Iterable[tuple[int, StoredEvent]] = zip(positions, stored, strict=True)
    if any(a >= b for a, b in pairwise(positions)):
        pairs = sorted(pairs, key=lambda pair: pair[0])
    # Per-row work is kept to the hashes: a bulk import chains tens of thousands of rows.
    # Heads are keyed by the stream's bytes, whose hash is cached (a UUID's is Python code).
    heads = {stream_id.bytes: head for stream_id, head in case_heads.items()}
    streams: dict[Any, tuple[UUID, bytes]] = {}
    links: list[ChainLink] = []
    append, sha256, join, domain, topics = links.append, _sha256, b"".join, EVENT_HASH_DOMAIN, _topic_fields
    for position, event in pairs:
        originator = event.originator_id
        stream = streams.get(originator)
        if stream is None:
            stream_id = as_uuid(originator)
            stream = streams[originator] = (stream_id, stream_id.bytes)
        stream_id, stream_bytes = stream
        version, topic, state = event.originator_version, event.topic, event.state
        digest = sha256(join((
            domain, stream_bytes, version.to_bytes(8, "big", signed=True),
            topics.get(topic) or _topic_field(topic), state,
        ))).digest()
        case_hash = heads[stream_bytes] = sha256(heads.get(stream_bytes, GENESIS) + digest).digest()
        ledger_head = sha256(ledger_head + digest).digest()
        append(ChainLink(
            position, stream_id, version, event_id_text(state), digest, case_hash, ledger_head
        ))
    return links


def first_versions(stored: Iterable[StoredEvent]) -> dict[UUID, int]:
    """Each stream's lowest version among `stored`: the one that links to the stored head."""
    found: dict[Any, int] = {}
    for event in stored:
        originator, version = event.originator_id, event.originator_version
        if version < found.get(originator, version + 1):
            found[originator] = version
    firsts: dict[UUID, int] = {}
    for originator, version in found.items():
        # One stream given once as a UUID and once as its text is still one stream.
        stream_id = as_uuid(originator)
        firsts[stream_id] = min(version, firsts.get(stream_id, version))
    return firsts


# ---- SQLite ------------------------------------------------------------------------------


class ChainedSQLiteApplicationRecorder(SQLiteApplicationRecorder):
    """SQLite's application recorder that writes each event's chain row in its transaction."""

    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name)
        self.chain_table = CHAIN_TABLE
        # Before the first connection is made: no command copies the log back (ledger/wal.py).
        without_autocheckpoint(datastore)

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
        before: BeforeSave | None = kwargs.get("before")
        if before is not None:
            before(c)
        # The first INSERT (the events', or `before`'s) takes SQLite's write lock, so the
        # heads read below are the latest and stay so until this transaction commits.
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
        hexes = {stream_id: stream_id.hex for stream_id in {k.stream_id for k in links}}
        c.executemany(
            f"INSERT INTO {CHAIN_TABLE} (position, stream_id, version, event_id, event_hash, "
            "case_hash, ledger_hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(k[0], hexes[k[1]], *k[2:]) for k in links],
        )
        within: WithinSave | None = kwargs.get("within")
        if within is not None:
            self._within_savepoint(c, within, positions)
        return positions

    @staticmethod
    def _within_savepoint(c: SQLiteCursor, within: WithinSave, positions: Sequence[int]) -> None:
        """Run `within` under a savepoint: if it fails, its writes are undone, the events not."""
        c.execute("SAVEPOINT bti_within_save")
        try:
            within(c, positions)
        except Exception:
            log.exception("the work within a save failed and was undone; the events are stored")
            # Raises if SQLite rolled back the whole transaction (a full disk): then the save
            # fails as a whole, and nothing is stored.
            c.execute("ROLLBACK TO SAVEPOINT bti_within_save")
        c.execute("RELEASE SAVEPOINT bti_within_save")

    def insert_event_batches(self, batches: Iterable[Sequence[StoredEvent]]) -> int:
        """Insert every batch with its chain rows in one transaction (a large import): each
        batch's heads are read after the one before went in, so the chain runs on."""
        inserted = 0
        with self.datastore.transaction(commit=True) as c:
            for stored_events in batches:
                self._insert_events(c, stored_events)
                inserted += len(stored_events)
        return inserted


def recorder_topic(persistence_module: str) -> str | None:
    """The chained recorder's topic for an eventsourcing persistence module, if there is one."""
    if persistence_module.endswith("sqlite"):
        return f"{__name__}:{ChainedSQLiteApplicationRecorder.__name__}"
    if persistence_module.endswith("postgres"):
        # Its own module: psycopg and the library's PostgreSQL half cost a fifth of a
        # second to import, which every SQLite command would otherwise pay.
        return "ledger.chain_postgres:ChainedPostgresApplicationRecorder"
    return None
