"""Verifying the hash chain: recompute it from the stored events and name the first break.

Two passes, each streaming in batches (memory does not grow with the ledger):

1. **The ledger chain**, in position order: every stored event must have its chain row at
   the same position and be the event that row names; its bytes must hash to the row's
   `event_hash`; and the ledger hash recomputed from the events must equal the stored one.
   This catches an event changed by one byte, a deleted event (its chain row is left
   without it, or — if the row went too — the next row no longer links), two events
   swapped, and a forged event (no chain row, or a chain that no longer links).
2. **The case chains**, in (case, version) order over the chain rows: versions run 1, 2, 3 …
   without a gap, and each case hash links to the one before it.

A truncated tail leaves a shorter chain that is whole: only a checkpoint held elsewhere (a
count and head hash, signed) shows it. `verify` therefore always reports the count and the
head, and checks the checkpoints it is given: the ledger hash recomputed at the
checkpoint's count must be the checkpoint's head.

Only what was committed when verification began is read, so a ledger in use verifies too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple
from uuid import UUID

from ledger.chain import CHAIN_TABLE, GENESIS, event_hash_of, event_id_of, link
from ledger.projections.sql import Cursor, Database
from ledger.store import EventStoreApplication

Progress = Callable[[int], None]
"""Called with the number of positions just verified (for a progress bar)."""

BATCH = 2_000
"""Positions read per batch in the ledger pass; rows per batch in the case pass."""

ProblemKind = Literal[
    "altered",
    "missing",
    "unchained",
    "moved",
    "ledger_link",
    "case_gap",
    "case_link",
    "checkpoint_head",
    "checkpoint_beyond_end",
]
"""What was found (the catalogue has `audit.problem.<kind>`):

- altered: the event's bytes are not those the chain recorded (changed after storing)
- missing: the chain records an event at this position, but the event is gone
- unchained: an event is stored here that the chain never recorded (inserted behind its back)
- moved: the event here is another than the chain recorded here (rows swapped or moved)
- ledger_link: the event is as recorded, but its ledger hash does not follow from it and the
  row before it (an earlier event was removed with its chain row, or the chain was edited)
- case_gap: the case's versions jump (an event of the case is missing)
- case_link: the case hash does not link to the case's previous event
- checkpoint_head: at the checkpoint's count the ledger hash is not the checkpoint's head
- checkpoint_beyond_end: the ledger holds fewer events than the checkpoint counted
"""


@dataclass(frozen=True)
class Problem:
    """The first place where the ledger does not match its chain."""

    kind: ProblemKind
    position: int
    """The position (notification id) of the event; for a checkpoint, the event count."""
    case_id: UUID | None = None
    event_id: UUID | None = None
    version: int | None = None
    found_event_id: UUID | None = None
    """For `moved`: the event that stands there instead."""


@dataclass(frozen=True)
class CheckpointClaim:
    """What a checkpoint says: after `events` events, the ledger hash was `head`."""

    events: int
    head: bytes


@dataclass
class Verification:
    """The result of recomputing both chains."""

    events: int = 0
    """Events verified (up to the first problem, or all)."""
    last_position: int = 0
    head: bytes = GENESIS
    """The ledger hash after the last verified event."""
    first: bytes | None = None
    """The ledger hash of the first event: which ledger this is."""
    problems: list[Problem] = field(default_factory=list)
    checkpoints_matched: list[CheckpointClaim] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_problem(self) -> Problem | None:
        return min(self.problems, key=lambda p: p.position) if self.problems else None

    def as_dict(self) -> dict[str, Any]:
        """A plain shape for `--json`."""
        return {
            "ok": self.ok,
            "events": self.events,
            "last_position": self.last_position,
            "head": self.head.hex(),
            "first": self.first.hex() if self.first else None,
            "problem": _problem_dict(self.first_problem),
            "problems": [_problem_dict(p) for p in sorted(self.problems, key=lambda p: p.position)],
        }


def _problem_dict(problem: Problem | None) -> dict[str, Any] | None:
    if problem is None:
        return None
    return {
        "kind": problem.kind,
        "position": problem.position,
        "case_id": str(problem.case_id) if problem.case_id else None,
        "event_id": str(problem.event_id) if problem.event_id else None,
        "version": problem.version,
        "found_event_id": str(problem.found_event_id) if problem.found_event_id else None,
    }


class _EventRow(NamedTuple):
    position: int
    stream: Any
    """The stream id as the database gives it (SQLite: hex text; PostgreSQL: a UUID)."""
    version: int
    topic: str
    state: bytes


class _ChainRow(NamedTuple):
    position: int
    stream: Any
    version: int
    event: Any
    """The event id as the database gives it, or None."""
    event_hash: bytes
    case_hash: bytes
    ledger_hash: bytes

    @property
    def stream_id(self) -> UUID:
        return _uuid(self.stream)

    @property
    def event_id(self) -> UUID | None:
        return None if self.event is None else _uuid(self.event)


def _stream_bytes(value: Any) -> bytes:
    """The 16 bytes of a stream id as the database gives it, without building a UUID."""
    if isinstance(value, UUID):
        return value.bytes
    text_value = str(value)
    return bytes.fromhex(text_value) if len(text_value) == 32 else UUID(text_value).bytes


class ChainReader:
    """The events table and the chain table of one ledger, read in batches."""

    def __init__(self, store: EventStoreApplication) -> None:
        self.db = Database(store)
        self.chain = self.db.table(CHAIN_TABLE)
        self.position = self.db.position_column

    def end(self) -> int:
        """The last position committed now, in the events or the chain table."""
        with self.db.transaction() as cursor:
            cursor.execute(
                f"SELECT (SELECT MAX({self.position}) FROM {self.db.events_table}) AS events_end, "
                f"(SELECT MAX(position) FROM {self.chain}) AS chain_end"
            )
            row = cursor.fetchone()
        return max((int(v) for v in (row or ()) if v is not None), default=0)

    def window(self, after: int, upto: int) -> tuple[list[_EventRow], list[_ChainRow]]:
        """Events and chain rows with positions in (after, upto], read in one transaction."""
        with self.db.transaction() as cursor:
            cursor.execute(
                f"SELECT {self.position}, originator_id, originator_version, topic, state "
                f"FROM {self.db.events_table} WHERE {self.position} > %s AND {self.position} <= %s "
                f"ORDER BY {self.position}",
                (after, upto),
            )
            events = [
                _EventRow(int(r[0]), r[1], int(r[2]), str(r[3]), bytes(r[4]))
                for r in cursor.fetchall()
            ]
            links = self._chain_rows(
                cursor, "WHERE position > %s AND position <= %s ORDER BY position", (after, upto)
            )
        return events, links

    def case_rows(self) -> Iterator[_ChainRow]:
        """Every chain row in (case, version) order, in batches."""
        last: tuple[Any, int] | None = None
        while True:
            with self.db.transaction() as cursor:
                if last is None:
                    rows = self._chain_rows(
                        cursor, "ORDER BY stream_id, version LIMIT %s", (BATCH,)
                    )
                else:
                    rows = self._chain_rows(
                        cursor,
                        "WHERE (stream_id, version) > (%s, %s) "
                        "ORDER BY stream_id, version LIMIT %s",
                        (last[0], last[1], BATCH),
                    )
            if not rows:
                return
            yield from rows
            last = (rows[-1].stream, rows[-1].version)

    def _chain_rows(self, cursor: Cursor, where: str, params: Sequence[Any]) -> list[_ChainRow]:
        cursor.execute(
            "SELECT position, stream_id, version, event_id, event_hash, case_hash, ledger_hash "
            f"FROM {self.chain} {where}",
            params,
        )
        return [
            _ChainRow(int(r[0]), r[1], int(r[2]), r[3], bytes(r[4]), bytes(r[5]), bytes(r[6]))
            for r in cursor.fetchall()
        ]

    def head_at(self, count: int) -> bytes | None:
        """The stored ledger hash of the `count`-th chain row (None if there are fewer)."""
        if count <= 0:
            return GENESIS
        with self.db.transaction() as cursor:
            cursor.execute(
                f"SELECT ledger_hash FROM {self.chain} ORDER BY position LIMIT 1 OFFSET %s",
                (count - 1,),
            )
            row = cursor.fetchone()
        return None if row is None else bytes(row[0])


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def verify(
    store: EventStoreApplication,
    *,
    checkpoints: Sequence[CheckpointClaim] = (),
    progress: Progress | None = None,
    total: Callable[[int], None] | None = None,
) -> Verification:
    """Recompute both chains of the ledger in `store`; the result names the first break.

    `total` is called once with the number of positions to read (for a progress bar);
    `progress` with each batch's share of them.
    """
    reader = ChainReader(store)
    end = reader.end()
    if total is not None:
        total(end)
    result = Verification()
    claims = sorted(checkpoints, key=lambda c: c.events)
    _ledger_pass(reader, end, result, claims, progress)
    for claim in claims:
        if claim.events > result.events and result.ok:
            result.problems.append(
                Problem("checkpoint_beyond_end", claim.events, version=result.events)
            )
        elif claim.events == 0 and claim.head == GENESIS:
            result.checkpoints_matched.append(claim)
    case_problem = _case_pass(reader)
    if case_problem is not None:
        result.problems.append(case_problem)
    return result


def _ledger_pass(
    reader: ChainReader,
    end: int,
    result: Verification,
    claims: Sequence[CheckpointClaim],
    progress: Progress | None,
) -> None:
    pending = list(claims)
    after = 0
    while after < end:
        upto = min(after + BATCH, end)
        events, links = reader.window(after, upto)
        problem = _check_window(events, links, result, pending)
        if progress is not None:
            progress(upto - after)
        if problem is not None:
            result.problems.append(problem)
            return
        after = upto


def _check_window(
    events: list[_EventRow],
    links: list[_ChainRow],
    result: Verification,
    pending: list[CheckpointClaim],
) -> Problem | None:
    by_position = {k.position: k for k in links}
    stored = {e.position: e for e in events}
    for position in sorted(by_position.keys() | stored.keys()):
        row, chained = stored.get(position), by_position.get(position)
        if row is None:
            assert chained is not None  # the position came from one of the two
            return Problem(
                "missing", position, chained.stream_id, chained.event_id, chained.version
            )
        if chained is None:
            return Problem(
                "unchained", position, _uuid(row.stream), event_id_of(row.state), row.version
            )
        digest = event_hash_of(_stream_bytes(row.stream), row.version, row.topic, row.state)
        if row.version != chained.version or row.stream != chained.stream:
            found = event_id_of(row.state)
            return Problem(
                "moved", position, chained.stream_id, chained.event_id, chained.version, found
            )
        if digest != chained.event_hash:
            found = event_id_of(row.state)
            kind: ProblemKind = "altered"
            if found is not None and chained.event_id is not None and found != chained.event_id:
                kind = "moved"
            return Problem(
                kind, position, chained.stream_id, chained.event_id, chained.version, found
            )
        head = link(result.head, digest)
        if head != chained.ledger_hash:
            return Problem(
                "ledger_link", position, chained.stream_id, chained.event_id, chained.version
            )
        result.head, result.last_position = head, position
        result.events += 1
        if result.first is None:
            result.first = head
        while pending and pending[0].events <= result.events:
            claim = pending.pop(0)
            if claim.events < result.events:
                continue  # a count passed without a match is reported below
            if claim.head != head:
                return Problem("checkpoint_head", claim.events, chained.stream_id,
                               chained.event_id, chained.version)
            result.checkpoints_matched.append(claim)
    return None


def _case_pass(reader: ChainReader) -> Problem | None:
    """The first break in any case's chain, by position."""
    worst: Problem | None = None
    stream: Any = None
    previous, expected = GENESIS, 1
    for row in reader.case_rows():
        if row.stream != stream:
            stream, previous, expected = row.stream, GENESIS, 1
        problem: Problem | None = None
        if row.version != expected:
            problem = Problem("case_gap", row.position, row.stream_id, row.event_id, row.version)
        elif link(previous, row.event_hash) != row.case_hash:
            problem = Problem("case_link", row.position, row.stream_id, row.event_id, row.version)
        if problem is not None and (worst is None or problem.position < worst.position):
            worst = problem
        previous, expected = row.case_hash, row.version + 1
    return worst
