"""SQL on the ledger's own database, written once for SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, Literal
from uuid import UUID

from ledger.store import EventStoreApplication

Dialect = Literal["sqlite", "postgres"]


class Cursor:
    """A cursor that takes `%s` placeholders on both databases and returns plain tuples."""

    def __init__(self, raw: Any, dialect: Dialect) -> None:
        self.raw = raw
        self.dialect = dialect

    def _sql(self, statement: str) -> str:
        return statement.replace("%s", "?") if self.dialect == "sqlite" else statement

    def execute(self, statement: str, params: Sequence[Any] = ()) -> Cursor:
        self.raw.execute(self._sql(statement), tuple(params))
        return self

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.raw.executemany(self._sql(statement), [tuple(r) for r in rows])

    @contextmanager
    def pipelined(self) -> Iterator[None]:
        """Statements sent together, one round trip for all (PostgreSQL; SQLite has none)."""
        if self.dialect != "postgres":
            yield
            return
        with self.raw.connection.pipeline():
            yield

    def fetchall(self) -> list[tuple[Any, ...]]:
        rows = self.raw.fetchall()
        if rows and isinstance(rows[0], dict):  # PostgreSQL's rows are dicts: all or none
            return [tuple(row.values()) for row in rows]
        return [tuple(row) for row in rows]

    def fetchone(self) -> tuple[Any, ...] | None:
        row = self.raw.fetchone()
        if row is None:
            return None
        return tuple(row.values()) if isinstance(row, dict) else tuple(row)


class Database:
    """The ledger's database as the projections see it: tables, transactions, the event log."""

    def __init__(self, store: EventStoreApplication) -> None:
        self.store = store
        module = store.env.get("PERSISTENCE_MODULE") or ""
        self.dialect: Dialect = "postgres" if "postgres" in module else "sqlite"
        self.datastore = store.recorder.datastore  # type: ignore[attr-defined]
        self.schema: str = getattr(self.datastore, "schema", "") if self.dialect == "postgres" else ""
        self.events_table = self.table(store.recorder.events_table_name)  # type: ignore[attr-defined]

    def table(self, name: str) -> str:
        """The table's name as SQL must write it (schema-qualified on PostgreSQL)."""
        return f'"{self.schema}"."{name}"' if self.schema else name

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        """One transaction: committed if the block ends normally, rolled back if it raises."""
        with self.datastore.transaction(commit=True) as raw:
            yield Cursor(raw, self.dialect)

    def analyze(self, tables: Sequence[str]) -> None:
        """Refresh PostgreSQL's planner statistics of `tables` (names as `table` gives them)
        after a bulk write: until autovacuum gets to fresh or grown tables, the planner
        believes them small and can pick plans that are slower by orders of magnitude.
        SQLite's planner needs none for the ledger's queries."""
        if self.dialect != "postgres" or not tables:
            return
        with self.transaction() as cursor:
            for table in tables:
                cursor.execute(f"ANALYZE {table}")

    def stream_key(self, stream_id: UUID) -> Any:
        """The originator id as the events table stores it."""
        return stream_id.hex if self.dialect == "sqlite" else stream_id

    @property
    def position_column(self) -> str:
        """The events table's notification id (SQLite's rowid; PostgreSQL's bigserial)."""
        return "rowid" if self.dialect == "sqlite" else "notification_id"

    def select_notifications(
        self, cursor: Cursor, after: int, limit: int
    ) -> list[tuple[int, UUID, int, str, bytes]]:
        """Notifications after position `after`, in order: (id, stream, version, topic, state)."""
        column = self.position_column
        cursor.execute(
            f"SELECT {column}, originator_id, originator_version, topic, state "
            f"FROM {self.events_table} WHERE {column} > %s ORDER BY {column} LIMIT %s",
            (after, limit),
        )
        return [
            (int(row[0]), as_uuid(row[1]), int(row[2]), str(row[3]), bytes(row[4]))
            for row in cursor.fetchall()
        ]

    def select_stream(
        self, cursor: Cursor, stream_id: UUID, below: int | None = None, upto: int | None = None
    ) -> list[tuple[str, bytes]]:
        """A stream's (topic, state) rows in order: those with version below `below`, or
        those at notification position `upto` or before."""
        where, params = ["originator_id = %s"], [self.stream_key(stream_id)]
        if below is not None:
            where.append("originator_version < %s")
            params.append(below)
        if upto is not None:
            where.append(f"{self.position_column} <= %s")
            params.append(upto)
        cursor.execute(
            f"SELECT topic, state FROM {self.events_table} WHERE {' AND '.join(where)} "
            "ORDER BY originator_version",
            params,
        )
        return [(str(row[0]), bytes(row[1])) for row in cursor.fetchall()]

    def max_position(self) -> int:
        """The newest notification id (0 for an empty ledger)."""
        with self.transaction() as cursor:
            cursor.execute(f"SELECT MAX({self.position_column}) FROM {self.events_table}")
            row = cursor.fetchone()
        return int(row[0]) if row and row[0] is not None else 0


def as_uuid(value: Any) -> UUID:
    """An id column's value as a UUID (SQLite stores text, PostgreSQL a uuid)."""
    return value if isinstance(value, UUID) else _parsed(str(value))


@lru_cache(maxsize=200_000)
def _parsed(text: str) -> UUID:
    # A case's id comes back with each of its events: parse it once, not every time.
    return UUID(text)
