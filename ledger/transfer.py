"""Import and export in the public JSON shape, one event per line; an import is checked whole.

An import is validated line by line and against the rules, in file order, as if each event
were recorded at its `recorded_at`; only when every line passes is the whole file written, in
one transaction. Lines already in the ledger byte for byte are skipped, so importing the
same file twice stores it once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, cast
from uuid import UUID, uuid4

import orjson
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from pydantic import ValidationError

from ledger.application import LEDGER_ID, CaseLedger, latest_rulebook
from ledger.case import Case
from ledger.chain import CHAIN_TABLE
from ledger.errors import ConcurrencyConflict, ImportRejected, LedgerError, LineProblem
from ledger.events import (
    EVENT_TYPES,
    CaseErased,
    CaseEvent,
    Event,
    RulebookAdopted,
    event_to_json,
)
from ledger.messages import text
from ledger.policies.rulebook import Rulebook
from ledger.projections.sql import Database
from ledger.store import EventStoreApplication

MAX_LINE_BYTES = 1_048_576
"""One event is a few kilobytes; a longer line is refused without being read into memory."""

Progress = Callable[[int], None]
NumberedLine = tuple[int, bytes | None, int]
"""(line number, the line's bytes — None if longer than MAX_LINE_BYTES —, its size)."""


@dataclass(frozen=True)
class ImportReport:
    """What an import stored."""

    stored: int
    skipped: int
    cases: int


def read_lines(path: Path | str) -> Iterator[NumberedLine]:
    """The lines of a JSONL file, numbered from 1; a too-long line is measured, not kept."""
    with open(path, "rb") as stream:
        yield from numbered(stream)


def numbered(stream: BinaryIO) -> Iterator[NumberedLine]:
    """Number the lines of a binary stream (anything with `readline(limit)`)."""
    number = 0
    while True:
        line = stream.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        number += 1
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            size = len(line)
            while line and not line.endswith(b"\n"):
                line = stream.readline(MAX_LINE_BYTES)
                size += len(line)
            yield number, None, size
            continue
        yield number, line.rstrip(b"\r\n"), len(line)


def export_events(ledger: CaseLedger, case_id: UUID | None = None) -> Iterator[bytes]:
    """Every event (or one case's) in recorded order, in the public JSON shape: personal
    fields opened (or "[slettet]" for an erased case), as they were recorded."""
    decode = ledger.store.decode
    if case_id is not None:
        for stored in ledger.store.recorder.select_events(case_id):
            yield event_to_json(decode(stored.topic, stored.state))
        return
    start = 1
    while True:
        rows = ledger.store.recorder.select_notifications(start=start, limit=1000)
        if not rows:
            return
        for row in rows:
            yield event_to_json(decode(row.topic, row.state))
        start = rows[-1].id + 1


def import_events(
    ledger: CaseLedger, lines: Iterable[NumberedLine], progress: Progress | None = None
) -> ImportReport:
    """Validate every line, then store all of them in one transaction, or none."""
    report = import_into(ledger.store, ledger.clock(), lines, progress)
    ledger.project()
    return report


def import_into(
    store: EventStoreApplication,
    now: datetime,
    lines: Iterable[NumberedLine],
    progress: Progress | None = None,
) -> ImportReport:
    """Import into a store, which may hold no ledger yet (the file then begins one)."""
    check = _ImportCheck(store, now)
    for number, line, size in lines:
        check.line(number, line, size)
        if progress:
            progress(1)
    if check.problems:
        raise ImportRejected(check.problems)
    if check.accepted:
        store.sealer.prepare(check.accepted)
        try:
            with store.case_keys.identity_index_deferred():
                store.events.put(check.accepted)
        except IntegrityError:
            raise ConcurrencyConflict("concurrency_conflict", case="import") from None
        _refresh_planner_statistics(store, len(check.accepted))
        for erased in (e for e in check.accepted if isinstance(e, CaseErased)):
            # An erased case arrives erased: its key goes as `erase_case` would destroy it.
            store.case_keys.destroy(
                erased.case_id, at=erased.recorded_at, by=erased.actor.person, reason=erased.reason
            )
    return ImportReport(
        stored=len(check.accepted),
        skipped=check.skipped,
        cases=len({e.stream_id for e in check.accepted if isinstance(e, CaseEvent)}),
    )


BULK_ANALYZE = 10_000
"""Events in one import after which PostgreSQL's statistics are refreshed at once."""


def _refresh_planner_statistics(store: EventStoreApplication, stored: int) -> None:
    """After a bulk import, the event and chain tables' statistics (PostgreSQL): without
    them the planner scanned the position index backwards on every following command."""
    if stored >= BULK_ANALYZE:
        db = Database(store)
        db.analyze([db.events_table, db.table(CHAIN_TABLE)])


class _ImportCheck:
    """Reads lines in order, keeping each stream's state, and collects every problem."""

    def __init__(self, store: EventStoreApplication, now: datetime) -> None:
        self.store = store
        self.now = now
        adopted = latest_rulebook(store)
        self.rulebook: Rulebook | None = (
            Rulebook.model_validate(adopted.rulebook_document) if adopted else None
        )
        self.ledger_events: list[Event] = cast(list[Event], list(store.events.get(LEDGER_ID)))
        # Into an empty store (a new ledger, a migration) no case can exist yet: no need to
        # look each one up. A writer that starts the same case meanwhile makes the put fail.
        self.store_was_empty = not self.ledger_events and not store.recorder.max_notification_id()
        self.cases: dict[UUID, Case] = {}
        self.failed_streams: set[UUID] = set()
        self.accepted: list[Event] = []
        self.skipped = 0
        self.problems: list[LineProblem] = []

    def problem(self, number: int, field: str, error: LedgerError) -> None:
        self.problems.append(LineProblem(number, field, error.code, error.message))

    def line(self, number: int, line: bytes | None, size: int) -> None:
        if line is None:
            self.problem(number, "-", LedgerError("line_too_long", size=size, limit=MAX_LINE_BYTES))
            return
        if not line.strip():
            return
        try:
            values = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            self.problem(number, "-", LedgerError("malformed_json", problem=str(error)))
            return
        if not isinstance(values, dict):
            problem = text("error.not_an_object")
            self.problem(number, "-", LedgerError("malformed_json", problem=problem))
            return
        cls = EVENT_TYPES.get(str(values.get("type")))
        if cls is None:
            self.problem(number, "type", LedgerError("unknown_event_type", type=values.get("type")))
            return
        stream = values.get("ledger_id" if cls is RulebookAdopted else "case_id")
        try:
            stream_id = UUID(str(stream))
        except ValueError:
            field = "ledger_id" if cls is RulebookAdopted else "case_id"
            self.problem(number, field, LedgerError("invalid_field", field=field, problem="not a valid id"))
            return
        values.setdefault("event_id", str(uuid4()))
        values.setdefault("recorded_at", self.now.isoformat())
        values.setdefault("sequence", self._next_sequence(stream_id, cls))
        try:
            event = cls.model_validate(values)
        except ValidationError as error:
            for detail in error.errors():
                field = ".".join(str(p) for p in detail["loc"]) or "-"
                self.problem(
                    number, field,
                    LedgerError("invalid_field", field=field, problem=detail["msg"]),
                )
            return
        if stream_id in self.failed_streams:
            return  # later lines of a stream that already failed would only echo that failure
        if self._already_stored(number, event):
            return
        try:
            self._check(event)
        except LedgerError as error:
            self.failed_streams.add(stream_id)
            self.problem(number, str(error.params.get("field", "-")), error)
            return
        self.accepted.append(event)

    def _next_sequence(self, stream_id: UUID, cls: type[Event]) -> int:
        if cls is RulebookAdopted:
            return len(self.ledger_events) + 1
        return self._case(stream_id).version + 1

    def _case(self, case_id: UUID) -> Case:
        case = self.cases.get(case_id)
        if case is None and self.store_was_empty:
            case = self.cases[case_id] = Case(id=case_id)
        elif case is None:
            try:
                case = self.store.repository.get(case_id, projector_func=Case.project)
            except AggregateNotFoundError:
                case = Case(id=case_id)
            self.cases[case_id] = case
        return case

    def _already_stored(self, number: int, event: Event) -> bool:
        """An event already in the ledger is skipped if identical, refused if not."""
        if isinstance(event, RulebookAdopted):
            known: list[Event] = [e for e in self.ledger_events if e.event_id == event.event_id]
        else:
            case = self._case(event.stream_id)
            found = case.event(event.event_id) if event.event_id in case.event_ids else None
            known = [found] if found is not None else []
        if not known:
            return False
        if event_to_json(known[0]) == event_to_json(event) and not any(
            a.event_id == event.event_id for a in self.accepted
        ):
            self.skipped += 1
        else:
            self.problem(number, "event_id", LedgerError("event_id_conflict", event_id=event.event_id))
        return True

    def _check(self, event: Event) -> None:
        if event.recorded_at > self.now:
            raise LedgerError("recorded_in_future", recorded_at=event.recorded_at)
        if isinstance(event, RulebookAdopted):
            expected = len(self.ledger_events) + 1
            if event.sequence != expected:
                raise LedgerError("out_of_order", sequence=event.sequence, expected=expected)
            self.rulebook = adopted_rulebook(event)
            self.ledger_events.append(event)
            return
        if self.rulebook is None:
            raise LedgerError("ledger_not_initialised", url=text("error.this_file"))
        case_event = cast(CaseEvent, event)  # every event type but RulebookAdopted is one
        case = self._case(case_event.case_id)
        # Each event is judged as if recorded when it says it was recorded.
        case.record(case_event, self.rulebook, event.recorded_at)
        case.collect_events()


def adopted_rulebook(event: RulebookAdopted) -> Rulebook:
    """The rulebook a RulebookAdopted event carries, checked against its digest."""
    try:
        rulebook = Rulebook.model_validate(event.rulebook_document)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in d['loc'])}: {d['msg']}" for d in error.errors()
        )
        raise LedgerError("rulebook_invalid", origin=event.rulebook, problems=problems) from None
    if rulebook.digest != event.rulebook_digest:
        raise LedgerError("rulebook_digest_mismatch", rulebook=event.rulebook)
    return rulebook
