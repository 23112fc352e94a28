"""Where events are kept: the eventsourcing Application, its orjson mapper, and database URLs."""

from __future__ import annotations

import os
import random
import sqlite3
import time
from collections.abc import Iterable, Sequence
from itertools import islice
from pathlib import Path
from typing import Any, Protocol, cast
from urllib.parse import parse_qs, unquote, urlparse
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import Mapper, Notification, PersistenceError, StoredEvent
from eventsourcing.utils import Environment, EnvType

from ledger.chain import recorder_topic
from ledger.encryption import SEALED_MARK, Sealer, carries_personal_data
from ledger.errors import StoreUnavailable
from ledger.events import EVENT_TYPES, Event, event_to_json
from ledger.heap import freeze_loaded_code
from ledger.keys import CaseKeys
from ledger.wal import Checkpointer

DEFAULT_URL = "sqlite:///bti.sqlite"


class EventMapper(Mapper[UUID]):
    """Stores each event as its public JSON shape with its personal fields sealed (orjson),
    and reads it back as its model with them opened (`ledger/encryption.py`).

    The stored `state` bytes are what the hash chain covers; `bti export` writes the public
    JSON shape (opened), so an export imported into an empty ledger exports identically.
    """

    sealer: Sealer | None = None
    """Set by the application once its database is open (None: stored as public JSON)."""

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        event: Event = domain_event
        return StoredEvent(
            originator_id=event.stream_id,
            originator_version=event.sequence,
            topic=event.type,
            state=self.sealer.seal_event(event) if self.sealer else event_to_json(event),
        )

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        if self.sealer is None:
            return decode(stored_event.topic, stored_event.state)
        return self.sealer.open_event(stored_event.topic, stored_event.state)


def decode(topic: str, state: bytes) -> Event:
    """One stored row in clear back to its model (sealed rows: `EventStoreApplication.decode`)."""
    return EVENT_TYPES[topic].model_validate_json(state)


PUT_BATCH = 2_000
"""Events sealed and inserted together by `put_in_batches` (a few MB of stored rows)."""


class BatchRecorder(Protocol):
    """The chained recorders' insert of many batches in one transaction (`ledger/chain*.py`)."""

    def insert_event_batches(self, batches: Iterable[Sequence[StoredEvent]]) -> int:
        """Insert every batch with its chain rows, all in one transaction; how many."""


class EventStoreApplication(Application[UUID]):
    """The eventsourcing Application that holds the ledger's events (table `bti_events`).

    Its recorder is always the chained one (`ledger/chain.py`): every event is stored with
    its link in the hash chain, in the same transaction, whatever the environment says.
    """

    name = "bti"

    def __init__(self, env: EnvType | None = None, *, writes: bool = True) -> None:
        """`writes=False`: a store that only reads (a rebuild's worker) copies no log back."""
        super().__init__(env=env)
        module = self.env.get("PERSISTENCE_MODULE") or ""
        datastore = self.recorder.datastore  # type: ignore[attr-defined]
        self.case_keys = CaseKeys(
            datastore, "postgres" if "postgres" in module else "sqlite",
            getattr(datastore, "schema", "") if "postgres" in module else "",
        )
        self.case_keys.create_tables()
        self.sealer = Sealer(self.case_keys)
        cast(EventMapper, self.mapper).sealer = self.sealer
        path = self.env.get("SQLITE_DBNAME")
        self.checkpointer = (
            Checkpointer(path).start() if writes and "sqlite" in module and path else None
        )

    def close(self) -> None:
        """Stop copying the log back (SQLite), then release the database connections."""
        if self.checkpointer is not None:
            self.checkpointer.stop()
        super().close()

    def put_in_batches(self, events: Iterable[Event], batch: int | None = None) -> int:
        """Store the events in one transaction, sealed and inserted a batch at a time, so a
        large import never holds every event's stored form and chain link at once."""
        to_stored = self.mapper.to_stored_event
        remaining = iter(events)
        size = batch or PUT_BATCH

        def sealed() -> list[StoredEvent]:
            chunk = list(islice(remaining, size))
            # The batch's keys in one query: an import outlives the key cache, and reading
            # them case by case as each is sealed took a quarter of the put.
            self.case_keys.load(list({e.stream_id for e in chunk if carries_personal_data(e)}))
            return [to_stored(event) for event in chunk]

        return cast(BatchRecorder, self.recorder).insert_event_batches(iter(sealed, []))

    def decode(self, topic: str, state: bytes) -> Event:
        """One stored row back to its model, its personal fields opened (or "[slettet]")."""
        return self.sealer.open_event(topic, state)

    def decode_rows(self, rows: Sequence[Notification]) -> list[Event]:
        """A batch of stored rows back to their models: the keys of all their cases read in
        one query first, instead of one query per case as each is met."""
        return self.decode_stored([(r.originator_id, r.topic, r.state) for r in rows])

    def decode_stored(self, rows: Sequence[tuple[UUID | str, str, bytes]]) -> list[Event]:
        """`decode_rows` for plain (stream, topic, state) rows, as a scan reads them."""
        streams = [_uuid(stream) for stream, _, _ in rows]
        self.case_keys.load(list({s for s, (_, _, state) in zip(streams, rows, strict=True)
                                  if SEALED_MARK in state}))
        open_event = self.sealer.open_event
        return [open_event(topic, state, s)
                for s, (_, topic, state) in zip(streams, rows, strict=True)]

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        environment = super().construct_env(name, env)
        topic = recorder_topic(environment.get("PERSISTENCE_MODULE") or "")
        if topic is not None:
            # Set under the application's own name too: that key is looked up first.
            for key in environment.create_keys("APPLICATION_RECORDER_TOPIC"):
                environment[key] = topic
        return environment

    def construct_mapper(self) -> Mapper[UUID]:
        return EventMapper(transcoder=self.factory.transcoder())


def _uuid(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else UUID(value)


def resolve_url(url: str | None) -> str:
    """The database URL to use: the one given, else $BTI_DATABASE_URL, else ./bti.sqlite."""
    return url or os.environ.get("BTI_DATABASE_URL") or DEFAULT_URL


def environment_for(url: str) -> dict[str, str]:
    """The eventsourcing settings for a database URL (sqlite:///path or postgresql://…)."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = unquote(parsed.path)
        # sqlite:///relative.sqlite and sqlite:////absolute/path.sqlite, as SQLAlchemy reads them
        path = path[1:] if path.startswith("/") else path
        if not path:
            raise StoreUnavailable("bad_url", url=url)
        create_private_file(Path(path))
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": path,
            "SQLITE_LOCK_TIMEOUT": "30",
        }
    if parsed.scheme in ("postgresql", "postgres"):
        query = parse_qs(parsed.query)
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": unquote(parsed.path.lstrip("/")) or "postgres",
            "POSTGRES_HOST": parsed.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parsed.port or 5432),
            "POSTGRES_USER": unquote(parsed.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parsed.password or ""),
            "POSTGRES_CONNECT_TIMEOUT": query.get("connect_timeout", ["5"])[0],
            # One connection kept open, more on demand: a municipality runs many processes.
            "POSTGRES_POOL_SIZE": query.get("pool_size", ["1"])[0],
            "POSTGRES_MAX_OVERFLOW": query.get("max_overflow", ["4"])[0],
        }
        if "schema" in query:
            env["POSTGRES_SCHEMA"] = query["schema"][0]
        return env
    raise StoreUnavailable("bad_url", url=url)


def create_private_file(path: Path) -> None:
    """Create the SQLite file readable by its owner only, before SQLite creates it openly."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.close(fd)


OPEN_ATTEMPTS = 6
"""How often opening is tried while another process is setting up the same store."""

SET_UP_RACE_SIGNS = (
    "tuple concurrently updated",
    "already exists",
    'violates unique constraint "pg_',
    "database is locked",
)
"""What the database says when two processes set up the same store at the same moment."""


def open_store(url: str) -> EventStoreApplication:
    """Open (and if need be create the tables of) the event store at `url`."""
    freeze_loaded_code()
    for attempt in range(1, OPEN_ATTEMPTS + 1):
        try:
            return EventStoreApplication(env=environment_for(url))
        except StoreUnavailable:
            raise
        except Exception as error:  # the library raises many kinds; the user needs one sentence
            if attempt < OPEN_ATTEMPTS and is_set_up_race(error):
                time.sleep(random.uniform(0.02, 0.1) * attempt)
                continue
            raise StoreUnavailable(
                "store_unavailable", url=redact(url), reason=str(error)
            ) from None
    raise AssertionError("unreachable")


def is_set_up_race(error: Exception) -> bool:
    """Did opening fail only because another process was setting up the store at that moment?

    The library (re)creates its tables, types and function on every open. On PostgreSQL two
    processes doing so at once collide ("tuple concurrently updated" on CREATE OR REPLACE
    FUNCTION; "already exists" or a duplicate catalogue key while both create a new schema's
    tables); on SQLite the first switch of a new file to WAL can meet "database is locked"
    (sqlite3's own error: the library does not wrap that one). Trying again works.
    """
    return isinstance(error, PersistenceError | sqlite3.OperationalError) and any(
        sign in str(error) for sign in SET_UP_RACE_SIGNS
    )


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(f":{parsed.password}@", ":***@")
    return url
