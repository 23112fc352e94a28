"""The naive way: what a user of `eventsourcing` 9.5.6 gets by following its documentation.

The same events, kept by an `Application` with the library's defaults: its own mapper and
JSON transcoder (no orjson, no pydantic), an `Aggregate` whose decorated methods are the
events, a repository without snapshots or cache. Measured:

- load: `app.events.put` in batches of 10,000 (only to fill the store; a user saving one
  aggregate at a time is slower still, see `record`);
- replay: the notification log read section by section (`LocalNotificationLog`, its default
  section size of 10) and every notification mapped back to its domain event;
- get: one `app.repository.get` per case;
- record: one command = `repository.get` + the aggregate method + `app.save`, one at a time;
- runner: a projection applying one event per transaction, the view row and the library's
  tracking record written together (as eventsourcing's `ProjectionRunner` does; SQLite has
  no subscription, so the same loop reads the log itself).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import InfrastructureFactory, Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteTrackingRecorder
from eventsourcing.utils import Environment, get_topic
from psycopg.sql import SQL

from ledger.store import environment_for

SKIPPED = frozenset({"type", "schema_version", "event_id", "sequence", "recorded_at", "case_id"})


class NaiveCase(Aggregate):
    """A case as a plain eventsourcing aggregate: every action one decorated event."""

    @event("Registered")
    def __init__(self, kind: str, fields: dict[str, Any]) -> None:
        self.kinds = [kind]
        self.unit = fields.get("unit", "")
        self.level = 0
        self.status = "open"

    @event("Recorded")
    def record(self, kind: str, fields: dict[str, Any]) -> None:
        self.kinds.append(kind)
        if kind == "LevelChanged":
            self.level = fields["to_level"]
        elif kind == "CaseClosed":
            self.status = "closed"
        elif kind == "CaseReopened":
            self.status = "open"


# The classes the library made from the decorated methods (invisible to a type checker).
NAIVE_REGISTERED: Any = getattr(NaiveCase, "Registered")  # noqa: B009
NAIVE_RECORDED: Any = getattr(NaiveCase, "Recorded")  # noqa: B009


class NaiveLedger(Application[UUID]):
    """The library's Application with every default (JSON transcoder, its own mapper)."""

    name = "naive"


def open_naive(url: str) -> NaiveLedger:
    env = environment_for(url)
    return NaiveLedger(env=env)


def domain_event(values: dict[str, Any]) -> Any:
    """A public-shape event dict as the naive aggregate's domain event."""
    fields = {k: v for k, v in values.items() if k not in SKIPPED}
    common = {
        "originator_id": UUID(values["case_id"]),
        "originator_version": values["sequence"],
        "timestamp": datetime.fromisoformat(values["recorded_at"]),
        "kind": values["type"],
        "fields": fields,
    }
    if values["sequence"] == 1:
        return NAIVE_REGISTERED(originator_topic=get_topic(NaiveCase), **common)
    return NAIVE_RECORDED(**common)


def case_lines(jsonl: Path) -> Iterator[dict[str, Any]]:
    with open(jsonl, "rb") as lines:
        for line in lines:
            values = orjson.loads(line)
            if "case_id" in values:
                yield values


POSTGRES_PUT = 1_000
"""Events per `put` into the library's own PostgreSQL recorder: a put of some megabytes hangs
in psycopg's `pipeline.sync()` (the bug `ledger/chain_postgres.py` works around)."""


def load(url: str, jsonl: Path, batch: int = 10_000) -> dict[str, Any]:
    """Fill the naive store with the file's case events, `events.put` per batch."""
    if url.startswith("postgres"):
        batch = min(batch, POSTGRES_PUT)
    app = open_naive(url)
    count = 0
    began = time.perf_counter()
    pending: list[Any] = []
    for values in case_lines(jsonl):
        pending.append(domain_event(values))
        if len(pending) >= batch:
            app.events.put(pending)
            count += len(pending)
            pending = []
    if pending:
        app.events.put(pending)
        count += len(pending)
    seconds = time.perf_counter() - began
    app.close()
    return {"events": count, "seconds": seconds}


def replay(url: str) -> dict[str, Any]:
    """The notification log, section by section, every item mapped to its domain event."""
    app = open_naive(url)
    log, mapper = app.notification_log, app.mapper
    count = 0
    began = time.perf_counter()
    section_id: str | None = f"1,{log.section_size}"
    while section_id is not None:
        section = log[section_id]
        for notification in section.items:
            mapper.to_domain_event(notification)
            count += 1
        section_id = section.next_id
    seconds = time.perf_counter() - began
    app.close()
    return {"events": count, "seconds": seconds}


def get(url: str, case_ids: list[str]) -> dict[str, Any]:
    """One `repository.get` per case, each timed."""
    app = open_naive(url)
    times = []
    for case_id in case_ids:
        began = time.perf_counter()
        app.repository.get(UUID(case_id))
        times.append((time.perf_counter() - began) * 1000)
    app.close()
    return {"ms": times}


def record(url: str, commands: Path, limit: int) -> dict[str, Any]:
    """One command at a time: get the aggregate (or create it), call its method, save."""
    app = open_naive(url)
    times = []
    for number, values in enumerate(case_lines(commands)):
        if number >= limit:
            break
        fields = {k: v for k, v in values.items() if k not in SKIPPED}
        began = time.perf_counter()
        case_id = UUID(values["case_id"])
        case: NaiveCase
        try:
            case = app.repository.get(case_id)
        except AggregateNotFoundError:
            # The case keeps the id the ledger gave it (the library's `_create(id=…)`).
            case = NaiveCase._create(NAIVE_REGISTERED, id=case_id, kind=values["type"],
                                     fields=fields)
        else:
            case.record(kind=values["type"], fields=fields)
        app.save(case)
        times.append((time.perf_counter() - began) * 1000)
    app.close()
    return {"ms": times}


# ---- a projection applying one event per transaction ---------------------------------


class _SummaryRows:
    """The naive view's one table: a row per case with unit, level and status."""

    table = "naive_case_summary"

    def create_statement(self, table: str) -> str:
        return (f"CREATE TABLE IF NOT EXISTS {table} (case_id TEXT PRIMARY KEY, "
                "unit TEXT, level INTEGER, status TEXT, events INTEGER, last_at TEXT)")

    def upsert_statement(self, table: str, placeholder: str) -> str:
        p = placeholder
        return (f"INSERT INTO {table} (case_id, unit, level, status, events, last_at) "
                f"VALUES ({p}, {p}, {p}, {p}, 1, {p}) ON CONFLICT (case_id) DO UPDATE SET "
                f"level = excluded.level, status = excluded.status, "
                f"events = {table}.events + 1, last_at = excluded.last_at")


class SQLiteSummaryView(SQLiteTrackingRecorder, _SummaryRows):
    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), self.create_statement(self.table)]

    def apply(self, row: tuple[Any, ...], tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(self.upsert_statement(self.table, "?"), row)
            self._insert_tracking(cursor, tracking)


class PostgresSummaryView(PostgresTrackingRecorder, _SummaryRows):
    def __init__(self, datastore: Any, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.qualified = f'"{datastore.schema}".{self.table}'
        self.sql_create_statements.append(SQL(self.create_statement(self.qualified)))  # type: ignore[arg-type]

    def apply(self, row: tuple[Any, ...], tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(self.upsert_statement(self.qualified, "%s"), row)
            self._insert_tracking(cursor, tracking)


def runner(url: str, view_url: str, budget_seconds: float) -> dict[str, Any]:
    """Follow the naive log, one event per transaction, for up to `budget_seconds`."""
    app = open_naive(url)
    view_env = Environment("naiveview", environment_for(view_url))
    factory = InfrastructureFactory.construct(view_env)
    postgres = "postgres" in view_env["PERSISTENCE_MODULE"]
    view: Any = factory.tracking_recorder(PostgresSummaryView if postgres else SQLiteSummaryView)
    state: dict[UUID, NaiveCase] = {}
    count = 0
    began = time.perf_counter()
    position = view.max_tracking_id(app.name) or 0
    done = False
    while not done:
        notifications = app.recorder.select_notifications(start=position + 1, limit=app.log_section_size)
        if not notifications:
            break
        for notification in notifications:
            domain_event: Any = app.mapper.to_domain_event(notification)
            case = state.get(domain_event.originator_id)
            case = domain_event.mutate(case)
            state[domain_event.originator_id] = case
            view.apply(
                (str(case.id), case.unit, case.level, case.status,
                 domain_event.timestamp.isoformat()),
                Tracking(app.name, notification.id),
            )
            position = notification.id
            count += 1
            if time.perf_counter() - began > budget_seconds:
                done = True
                break
    seconds = time.perf_counter() - began
    app.close()
    factory.close()
    return {"events": count, "seconds": seconds}
