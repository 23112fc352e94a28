"""The floor: the same work done with nothing but the database driver and orjson.

Every project figure is divided by one of these, measured in the same run on the same
machine, so a busy machine slows both sides alike:

- insert: read the JSONL file, `orjson.loads` each line, and insert (stream, version, type,
  bytes) rows into a table shaped like the event store's, `executemany` in batches, one
  transaction (the bulk import's floor);
- scan: read the event store's table in notification order and `orjson.loads` every row
  (the floor of replay, rebuild and verify);
- models: the same rows in clear validated into their pydantic models (pydantic's own cost,
  shown beside replay: no replay that returns models can beat it);
- one-row insert and commit, one at a time (the floor of recording one action);
- the same SELECTs the case summary and the deadline queries run, each row `orjson.loads`ed
  (the floor of `case show` and of a deadline query).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse
from uuid import UUID, uuid4

import orjson

from ledger.store import environment_for

FLOOR_TABLE = "floor_events"
EVENTS_TABLE = "bti_events"


class Raw:
    """A bare DB-API connection to a ledger URL, with its placeholder and table names."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.postgres = urlparse(url).scheme.startswith("postgres")
        if self.postgres:
            import psycopg

            env = environment_for(url)
            self.schema = parse_qs(urlparse(url).query).get("schema", ["public"])[0]
            self.conn: Any = psycopg.connect(
                dbname=env["POSTGRES_DBNAME"], host=env["POSTGRES_HOST"],
                port=int(env["POSTGRES_PORT"]), user=env["POSTGRES_USER"],
                password=env["POSTGRES_PASSWORD"] or None, autocommit=True,
            )
            self.conn.execute(f'SET search_path TO "{self.schema}"')
        else:
            path = environment_for(url)["SQLITE_DBNAME"]
            self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            # As the event store runs it: WAL, synchronous left at FULL (ARCHITECTURE.md).
            self.conn.execute("PRAGMA journal_mode=WAL")

    def sql(self, statement: str) -> str:
        return statement if self.postgres else statement.replace("%s", "?")

    def stream_key(self, stream: str) -> Any:
        """A stream id as the event store keeps it (hex text on SQLite, uuid on PostgreSQL)."""
        return UUID(stream) if self.postgres else stream.replace("-", "")

    @property
    def position(self) -> str:
        return "notification_id" if self.postgres else "rowid"

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        if self.postgres:
            with self.conn.transaction():
                yield self.conn.cursor()
            return
        cursor = self.conn.cursor()
        cursor.execute("BEGIN")
        try:
            yield cursor
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        cursor.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()


def create_floor_table(raw: Raw, fresh: bool = True) -> None:
    """A table shaped like the event store's (same key, same columns)."""
    with raw.transaction() as cursor:
        if fresh:
            cursor.execute(f"DROP TABLE IF EXISTS {FLOOR_TABLE}")
        if raw.postgres:
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {FLOOR_TABLE} (originator_id uuid NOT NULL, "
                "originator_version bigint NOT NULL, topic text, state bytea, "
                "notification_id bigserial, PRIMARY KEY (originator_id, originator_version))"
            )
        else:
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {FLOOR_TABLE} (originator_id TEXT, originator_version INTEGER, "
                "topic TEXT, state BLOB, PRIMARY KEY (originator_id, originator_version))"
            )


def insert(url: str, jsonl: Path, batch: int = 10_000) -> dict[str, Any]:
    """Parse every line and insert it as a row, in batches, in one transaction."""
    raw = Raw(url)
    create_floor_table(raw)
    statement = raw.sql(
        f"INSERT INTO {FLOOR_TABLE} (originator_id, originator_version, topic, state) "
        "VALUES (%s, %s, %s, %s)"
    )
    loads, key = orjson.loads, raw.stream_key
    count = 0
    began = time.perf_counter()
    with raw.transaction() as cursor, open(jsonl, "rb") as lines:
        rows: list[tuple[Any, ...]] = []
        for line in lines:
            state = line.rstrip(b"\n")
            values = loads(state)
            stream = values.get("case_id") or values["ledger_id"]
            rows.append((key(stream), values["sequence"], values["type"], state))
            if len(rows) >= batch:
                cursor.executemany(statement, rows)
                count += len(rows)
                rows = []
        if rows:
            cursor.executemany(statement, rows)
            count += len(rows)
    seconds = time.perf_counter() - began
    raw.close()
    return {"events": count, "seconds": seconds}


def scan(url: str, table: str = EVENTS_TABLE, fetch: int = 10_000) -> dict[str, Any]:
    """Read every row in notification order and decode its JSON."""
    raw = Raw(url)
    loads = orjson.loads
    count = size = 0
    began = time.perf_counter()
    statement = (f"SELECT {raw.position}, originator_id, originator_version, topic, state "
                 f"FROM {table} ORDER BY {raw.position}")
    if raw.postgres:
        with raw.conn.transaction(), raw.conn.cursor(name="floor_scan") as cursor:
            cursor.itersize = fetch
            cursor.execute(statement)
            while rows := cursor.fetchmany(fetch):
                for row in rows:
                    loads(row[4])
                    size += len(row[4])
                count += len(rows)
    else:
        cursor = raw.conn.execute(statement)
        while rows := cursor.fetchmany(fetch):
            for row in rows:
                loads(row[4])
                size += len(row[4])
            count += len(rows)
    seconds = time.perf_counter() - began
    raw.close()
    return {"events": count, "seconds": seconds, "bytes": size}


def models(url: str, fetch: int = 10_000) -> dict[str, Any]:
    """Read the floor table's clear rows and validate each into its pydantic model: what
    pydantic alone costs, beneath any replay that hands back models (not a target's floor)."""
    from ledger.events import EVENT_TYPES

    raw = Raw(url)
    count = 0
    began = time.perf_counter()
    cursor = raw.conn.execute(
        f"SELECT topic, state FROM {FLOOR_TABLE} ORDER BY {raw.position}"
    )
    while rows := cursor.fetchmany(fetch):
        for topic, state in rows:
            EVENT_TYPES[topic].model_validate_json(state)
        count += len(rows)
    seconds = time.perf_counter() - began
    raw.close()
    return {"events": count, "seconds": seconds}


def timed(calls: Sequence[Callable[[], Any]]) -> list[float]:
    """Each call's duration in milliseconds."""
    times = []
    clock = time.perf_counter
    for call in calls:
        began = clock()
        call()
        times.append((clock() - began) * 1000)
    return times


def record(url: str, samples: int) -> dict[str, Any]:
    """One small row inserted and committed at a time (one fsync each on SQLite FULL)."""
    raw = Raw(url)
    create_floor_table(raw, fresh=False)
    statement = raw.sql(
        f"INSERT INTO {FLOOR_TABLE} (originator_id, originator_version, topic, state) "
        "VALUES (%s, %s, %s, %s)"
    )
    state = orjson.dumps({"type": "BrightSpotLogged", "observation": "x" * 400})

    def one() -> None:
        stream = uuid4()
        with raw.transaction() as cursor:
            cursor.execute(statement, (stream if raw.postgres else stream.hex, 1,
                                       "BrightSpotLogged", state))

    times = timed([one] * samples)
    raw.close()
    return {"ms": times}


def case_show(url: str, case_ids: Sequence[str]) -> dict[str, Any]:
    """The case summary's row fetched by key and decoded."""
    raw = Raw(url)
    statement = raw.sql("SELECT summary FROM bti_case_summary WHERE case_id = %s")
    loads = orjson.loads

    def fetch(case_id: str) -> Callable[[], Any]:
        def one() -> Any:
            row = raw.conn.execute(statement, (case_id,)).fetchone()
            return loads(row[0]) if row else None
        return one

    times = timed([fetch(c) for c in case_ids])
    raw.close()
    return {"ms": times}


def deadline_sql(query: dict[str, Any], now_text: str, soon_text: str) -> tuple[str, list[Any]]:
    """The SELECT `query_deadlines` runs for one benchmark query (see measure.DEADLINE_QUERIES)."""
    where, params = (["1 = 1"], []) if query.get("include_closed") else (["state = %s"], ["open"])
    if query.get("overdue"):
        where.append("due_at < %s")
        params.append(now_text)
    if query.get("due_within_days") is not None:
        where.append("due_at <= %s")
        params.append(soon_text)
    for column in ("unit", "holder", "case_id"):
        if query.get(column) is not None:
            where.append(f"{column} = %s")
            params.append(query[column])
    statement = (f"SELECT deadline FROM bti_deadlines WHERE {' AND '.join(where)} "
                 "ORDER BY due_at, deadline_id")
    return statement, params


def deadlines(url: str, queries: Sequence[dict[str, Any]], now_text: str,
              soon_texts: Sequence[str]) -> dict[str, Any]:
    """The deadline queries' SELECTs, every row decoded."""
    raw = Raw(url)
    loads = orjson.loads

    def run(query: dict[str, Any], soon: str) -> Callable[[], Any]:
        statement, params = deadline_sql(query, now_text, soon)
        statement = raw.sql(statement)

        def one() -> Any:
            return [loads(row[0]) for row in raw.conn.execute(statement, params).fetchall()]
        return one

    times = timed([run(q, s) for q, s in zip(queries, soon_texts, strict=True)])
    raw.close()
    return {"ms": times}
