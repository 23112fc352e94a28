"""Import and export in the public JSON shape, one event per line; an import is checked whole.

An import is validated line by line and against the rules, in file order, as if each event
were recorded at its `recorded_at`; only when every line passes is the whole file written, in
one transaction (read back from a spill file, sealed and inserted a batch at a time, so an
import's memory does not grow with its file). Lines already in the ledger byte for byte are skipped, so importing the
same file twice stores it once.
"""

from __future__ import annotations

import tempfile
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
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
from ledger.encryption import carries_personal_data
from ledger.errors import ConcurrencyConflict, ImportRejected, LedgerError, LineProblem
from ledger.events import (
    EVENT_TYPES,
    CaseErased,
    CaseEvent,
    Event,
    RulebookAdopted,
    event_to_json,
)
from ledger.heap import fewer_collections
from ledger.messages import text
from ledger.policies.rulebook import Rulebook
from ledger.problems import problem_words
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
    # The spill file is unnamed: gone when closed, or if the process dies.
    with tempfile.TemporaryFile() as spill, fewer_collections():
        check = _ImportCheck(store, now, spill)
        for number, line, size in lines:
            check.line(number, line, size)
            if progress:
                progress(1)
        if check.problems:
            raise ImportRejected(check.problems)
        if check.stored:
            store.case_keys.ensure(check.first_sealed)
            try:
                with store.case_keys.identity_index_deferred():
                    store.put_in_batches(check.accepted())
            except IntegrityError:
                raise ConcurrencyConflict("concurrency_conflict", case="import") from None
            _refresh_planner_statistics(store, check.stored)
            for erased in check.erased:
                # An erased case arrives erased: its key goes as `erase_case` would destroy it.
                store.case_keys.destroy(
                    erased.case_id, at=erased.recorded_at, by=erased.actor.person,
                    reason=erased.reason,
                )
    cases = sum(1 for case in check.in_file.values() if case.offsets)
    return ImportReport(stored=check.stored, skipped=check.skipped, cases=cases)


BULK_ANALYZE = 10_000
"""Events in one import after which PostgreSQL's statistics are refreshed at once."""


def _refresh_planner_statistics(store: EventStoreApplication, stored: int) -> None:
    """After a bulk import, the event and chain tables' statistics (PostgreSQL): without
    them the planner scanned the position index backwards on every following command."""
    if stored >= BULK_ANALYZE:
        db = Database(store)
        db.analyze([db.events_table, db.table(CHAIN_TABLE)])


CASES_HELD = 10_000
"""Cases an import keeps folded; one not met for longer is folded again when it comes back.

A file in recorded order (an export, a migration) has few cases under way at once: at a
million events (80 % of the cases open), 10,000 held cases meant 7 % of the events brought a case
back, 20,000 held 0.7 %; each held case costs about 25 KB."""


@dataclass
class _CaseInFile:
    """Where one case's accepted lines are in the spill file, and what it had in the store."""

    stored_version: int
    offsets: array[int] = field(default_factory=lambda: array("q"))


class _ImportCheck:
    """Reads lines in order, keeping each stream's state, and collects every problem.

    Accepted events wait in a spill file (their public JSON shape, one per line), not in
    memory: only the most recently met `CASES_HELD` cases stay folded, so an import's
    memory does not grow with the file.
    """

    def __init__(self, store: EventStoreApplication, now: datetime, spill: BinaryIO) -> None:
        self.store = store
        self.now = now
        self.spill = spill
        adopted = latest_rulebook(store)
        self.rulebook: Rulebook | None = (
            Rulebook.model_validate(adopted.rulebook_document) if adopted else None
        )
        self.ledger_events: list[Event] = cast(list[Event], list(store.events.get(LEDGER_ID)))
        self.stored_ledger_events = len(self.ledger_events)
        # Into an empty store (a new ledger, a migration) no case can exist yet: no need to
        # look each one up. A writer that starts the same case meanwhile makes the put fail.
        self.store_was_empty = not self.ledger_events and not store.recorder.max_notification_id()
        self.cases: OrderedDict[UUID, Case] = OrderedDict()
        self.in_file: dict[UUID, _CaseInFile] = {}
        self.first_sealed: dict[UUID, datetime] = {}
        self.erased: list[CaseErased] = []
        self.failed_streams: set[UUID] = set()
        self.stored = 0
        self.skipped = 0
        self.problems: list[LineProblem] = []

    def problem(self, number: int, field: str, error: LedgerError) -> None:
        self.problems.append(LineProblem(number, field, error.code, error.message))

    def accepted(self) -> Iterator[Event]:
        """The accepted events, in file order, read back from the spill file."""
        self.spill.seek(0)
        for line in self.spill:
            yield _from_spill(line)

    def _accept(self, event: Event) -> None:
        """Write the event to the spill file and note where its case's lines are."""
        self.stored += 1
        offset = self.spill.tell()
        self.spill.write(event.type.encode() + b" " + event_to_json(event) + b"\n")
        if not isinstance(event, CaseEvent):
            return
        self.in_file[event.case_id].offsets.append(offset)
        if event.case_id not in self.first_sealed and carries_personal_data(event):
            self.first_sealed[event.case_id] = event.recorded_at
        if isinstance(event, CaseErased):
            self.erased.append(event)

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
            problem = text("problem.uuid_parsing")
            self.problem(number, field, LedgerError("invalid_field", field=field, problem=problem))
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
                    LedgerError("invalid_field", field=field, problem=problem_words(detail)),
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
        self._accept(event)

    def _next_sequence(self, stream_id: UUID, cls: type[Event]) -> int:
        if cls is RulebookAdopted:
            return len(self.ledger_events) + 1
        return self._case(stream_id).version + 1

    def _case(self, case_id: UUID) -> Case:
        case = self.cases.get(case_id)
        if case is not None:
            self.cases.move_to_end(case_id)
            return case
        known = self.in_file.get(case_id)
        if self.store_was_empty:
            case = Case(id=case_id)
        else:
            try:
                case = self.store.repository.get(case_id, projector_func=Case.project)
            except AggregateNotFoundError:
                case = Case(id=case_id)
        if known is None:
            self.in_file[case_id] = _CaseInFile(stored_version=case.version)
        elif known.offsets:  # met before and let go: fold its accepted lines again
            case = cast(Case, Case.project(case, self._spilled(known.offsets)))
        self.cases[case_id] = case
        if len(self.cases) > CASES_HELD:
            self.cases.popitem(last=False)
        return case

    def _spilled(self, offsets: array[int]) -> Iterator[Event]:
        """Accepted lines of one case, read back from the spill file."""
        self.spill.flush()
        end = self.spill.tell()
        for offset in offsets:
            self.spill.seek(offset)
            yield _from_spill(self.spill.readline())
        self.spill.seek(end)

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
        if event_to_json(known[0]) == event_to_json(event) and not self._in_this_file(known[0]):
            self.skipped += 1
        else:
            self.problem(number, "event_id", LedgerError("event_id_conflict", event_id=event.event_id))
        return True

    def _in_this_file(self, event: Event) -> bool:
        """Was this event accepted from this file (a line given twice), not found stored?"""
        if isinstance(event, RulebookAdopted):
            return event.sequence > self.stored_ledger_events
        return event.sequence > self.in_file[event.stream_id].stored_version

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


def _from_spill(line: bytes) -> Event:
    """An event back from its spill-file line: its type, a space, its public JSON shape."""
    topic, _, state = line.rstrip(b"\n").partition(b" ")
    return EVENT_TYPES[topic.decode()].model_validate_json(state)


def adopted_rulebook(event: RulebookAdopted) -> Rulebook:
    """The rulebook a RulebookAdopted event carries, checked against its digest."""
    try:
        rulebook = Rulebook.model_validate(event.rulebook_document)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in d['loc'])}: {problem_words(d)}" for d in error.errors()
        )
        raise LedgerError("rulebook_invalid", origin=event.rulebook, problems=problems) from None
    if rulebook.digest != event.rulebook_digest:
        raise LedgerError("rulebook_digest_mismatch", rulebook=event.rulebook)
    return rulebook
