"""Verifying the hash chain: recompute it from the stored events and name the first break.

One pass in position order, streaming in batches, checks both chains:

1. **The ledger chain**: every stored event must have its chain row at the same position and
   be the event that row names; its bytes must hash to the row's `event_hash`; and the ledger
   hash recomputed from the events must equal the stored one. This catches an event changed
   by one byte, a deleted event (its chain row is left without it, or — if the row went too —
   the next row no longer links), two events swapped, and a forged event (no chain row, or a
   chain that no longer links). The pass stops checking it at the first break.
2. **The case chains**, over every chain row: each case's versions run 1, 2, 3 … without a
   gap, and each case hash links to the one before it. The writer links a case's events in
   the order it stores them (`ledger/chain.py`), and a case's later versions are always stored
   later, so position order is each case's version order: the pass keeps one small entry per
   case (its last version and case hash) instead of reading the chain again sorted by case,
   which read the chain table in index order, one random page after another.

A batch whose events and chain rows all line up (the normal case) is checked in one tight
loop; the first batch that does not is checked again row by row to name what is wrong.

A truncated tail leaves a shorter chain that is whole: only a checkpoint held elsewhere (a
count and head hash, signed) shows it. `verify` therefore always reports the count and the
head, and checks the checkpoints it is given: the ledger hash recomputed at the
checkpoint's count must be the checkpoint's head.

Only what was committed when verification began is read, so a ledger in use verifies too.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

from ledger.chain import CHAIN_TABLE, EVENT_HASH_DOMAIN, GENESIS, event_hash_of, event_id_of, link
from ledger.heap import fewer_collections
from ledger.projections.sql import Cursor, Database
from ledger.store import EventStoreApplication

Progress = Callable[[int], None]
"""Called with the number of positions just verified (for a progress bar)."""

BATCH = 5_000
"""Positions read per batch (events joined to their chain rows)."""

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


EventRow = tuple[int, Any, int, str, bytes]
"""(position, stream id, version, topic, state) as the database gives them (the stream id:
SQLite's hex text, PostgreSQL's UUID)."""

ChainRow = tuple[int, Any, int, Any, bytes, bytes, bytes]
"""(position, stream id, version, event id, event_hash, case_hash, ledger_hash) as the
database gives them (the event id: text, a UUID, or None)."""


JoinedRow = tuple[int, Any, int, Any, bytes | None, bytes | None, bytes | None, str, bytes]
"""An event beside its chain row: (position, stream id, version, whether the chain row names
this event — true, false, or None for no chain row —, the chain row's event_hash, case_hash
and ledger_hash, the event's topic and state). The first seven are laid out as a `ChainRow`'s,
so one loop checks the case chains of both."""


def _stream_bytes(value: Any) -> bytes:
    """The 16 bytes of a stream id as the database gives it, without building a UUID."""
    if isinstance(value, UUID):
        return value.bytes
    text_value = str(value)
    return bytes.fromhex(text_value) if len(text_value) == 32 else UUID(text_value).bytes


class ChainReader:
    """The events table and the chain table of one ledger, read in batches of positions."""

    def __init__(self, store: EventStoreApplication) -> None:
        self.db = Database(store)
        self.chain = self.db.table(CHAIN_TABLE)
        self.position = self.db.position_column
        self._select_events = (
            f"SELECT {self.position}, originator_id, originator_version, topic, state "
            f"FROM {self.db.events_table} WHERE {self.position} > %s AND {self.position} <= %s "
            f"ORDER BY {self.position}"
        )
        self._select_links = (
            "SELECT position, stream_id, version, event_id, event_hash, case_hash, ledger_hash "
            f"FROM {self.chain} WHERE position > %s AND position <= %s ORDER BY position"
        )
        # Each event beside its chain row, and whether the row names it: one statement, the
        # comparisons done by the database, and no chain columns the check does not need.
        self._select_joined = (
            f"SELECT e.{self.position}, e.originator_id, e.originator_version, "
            "c.stream_id = e.originator_id AND c.version = e.originator_version, "
            "c.event_hash, c.case_hash, c.ledger_hash, e.topic, e.state "
            f"FROM {self.db.events_table} AS e LEFT JOIN {self.chain} AS c "
            f"ON c.position = e.{self.position} "
            f"WHERE e.{self.position} > %s AND e.{self.position} <= %s "
            f"ORDER BY e.{self.position}"
        )
        self._count_links = (
            f"SELECT COUNT(*) FROM {self.chain} WHERE position > %s AND position <= %s"
        )

    def end(self) -> int:
        """The last position committed now, in the events or the chain table."""
        with self.db.transaction() as cursor:
            cursor.execute(
                f"SELECT (SELECT MAX({self.position}) FROM {self.db.events_table}) AS events_end, "
                f"(SELECT MAX(position) FROM {self.chain}) AS chain_end"
            )
            row = cursor.fetchone()
        return max((int(v) for v in (row or ()) if v is not None), default=0)

    def window(self, after: int, upto: int) -> tuple[list[EventRow], list[ChainRow]]:
        """Events and chain rows with positions in (after, upto], read in one transaction."""
        with self.db.transaction() as cursor:
            return (_plain_rows(cursor, self._select_events, (after, upto)),
                    _plain_rows(cursor, self._select_links, (after, upto)))

    def joined(self, after: int, upto: int) -> tuple[list[JoinedRow], int]:
        """Events with positions in (after, upto], each with its chain row's hashes, and how
        many chain rows the window holds (more than events joined: a chain row lost its
        event)."""
        with self.db.transaction() as cursor:
            rows = _plain_rows(cursor, self._select_joined, (after, upto))
            count = _plain_rows(cursor, self._count_links, (after, upto))[0][0]
        return rows, int(count)

    def event_id_at(self, position: int) -> UUID | None:
        """The event id the chain row at `position` records (to name a problem)."""
        with self.db.transaction() as cursor:
            rows = _plain_rows(
                cursor, f"SELECT event_id FROM {self.chain} WHERE position = %s", (position,)
            )
        return _event_uuid(rows[0][0]) if rows else None

    def links(self, after: int, upto: int) -> list[ChainRow]:
        """The chain rows alone with positions in (after, upto]."""
        with self.db.transaction() as cursor:
            return _plain_rows(cursor, self._select_links, (after, upto))

    def case_heads(self, streams: list[Any], before: int) -> dict[Any, tuple[int, bytes]]:
        """Each stream's last chain row before position `before`: (version, case hash)."""
        found: dict[Any, tuple[int, int, bytes]] = {}
        with self.db.transaction() as cursor:
            for start in range(0, len(streams), 500):
                chunk = streams[start:start + 500]
                marks = ", ".join(["%s"] * len(chunk))
                for stream, position, version, case_hash in _plain_rows(
                    cursor,
                    f"SELECT stream_id, position, version, case_hash FROM {self.chain} "
                    f"WHERE stream_id IN ({marks}) AND position < %s",
                    (*chunk, before),
                ):
                    if stream not in found or position > found[stream][0]:
                        found[stream] = (position, version, bytes(case_hash))
        return {stream: (version, case_hash) for stream, (_, version, case_hash) in found.items()}


def _plain_rows(cursor: Cursor, statement: str, params: tuple[Any, ...]) -> list[Any]:
    """The rows as plain tuples straight from the driver.

    `Cursor.fetchall` copies every row into a new tuple (both drivers hand back rows keyed
    by name): a third of verify's time. Here the driver's cursor is told to make tuples.
    """
    raw = cursor.raw
    if cursor.dialect == "sqlite":
        sqlite_cursor = raw.sqlite_cursor
        sqlite_cursor.row_factory = None
        sqlite_cursor.execute(statement.replace("%s", "?"), params)
        return sqlite_cursor.fetchall()  # type: ignore[no-any-return]
    from psycopg.rows import tuple_row  # noqa: PLC0415 - only on PostgreSQL

    raw.row_factory = tuple_row
    raw.execute(statement, params)
    rows: list[Any] = raw.fetchall()
    # PostgreSQL hands bytea back as bytes already; SQLite's BLOBs are bytes too.
    return rows


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def _event_uuid(value: Any) -> UUID | None:
    return None if value is None else _uuid(value)


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
    cases = CaseChains(reader)
    with fewer_collections():  # every row read is a tuple of bytes
        ledger_problem = _one_pass(reader, end, result, claims, cases=cases, progress=progress)
    if ledger_problem is not None:
        result.problems.append(ledger_problem)
    for claim in claims:
        if claim.events > result.events and result.ok:
            result.problems.append(
                Problem("checkpoint_beyond_end", claim.events, version=result.events)
            )
        elif claim.events == 0 and claim.head == GENESIS:
            result.checkpoints_matched.append(claim)
    if cases.first_problem is not None:
        result.problems.append(cases.first_problem)
    return result


def _one_pass(
    reader: ChainReader,
    end: int,
    result: Verification,
    claims: Sequence[CheckpointClaim],
    *,
    cases: CaseChains,
    progress: Progress | None,
) -> Problem | None:
    """Both chains over positions (0, end]; the ledger chain's first break, if any."""
    pending = list(claims)
    ledger_problem: Problem | None = None
    after = 0
    while after < end:
        upto = min(after + BATCH, end)
        if ledger_problem is not None:
            # The ledger chain is broken already; the case chains are still worth naming.
            cases.check(reader.links(after, upto))
        elif not _fast_window(reader, after, upto, result=result, pending=pending, cases=cases):
            # Something in this batch is not as chained: again, row by row, to name it.
            events, links = reader.window(after, upto)
            ledger_problem = _check_rows(events, links, result, pending)
            cases.check(links)
        if progress is not None:
            progress(upto - after)
        after = upto
    return ledger_problem


def _fast_window(
    reader: ChainReader,
    after: int,
    upto: int,
    *,
    result: Verification,
    pending: list[CheckpointClaim],
    cases: CaseChains,
) -> bool:
    """Both chains over one batch in which every event is exactly as chained and no
    checkpoint's count falls; False, with nothing changed, if the batch is not so."""
    rows, chained = reader.joined(after, upto)
    if len(rows) != chained:
        return False
    if pending and pending[0].events <= result.events + len(rows):
        return False
    head = _linked_head(rows, result.head)
    if head is None:
        return False
    cases.check(rows, reader.event_id_at)
    if rows:
        if result.first is None:
            result.first = rows[0][6]  # checked equal to the recomputed hash
        result.head, result.last_position = head, rows[-1][0]
        result.events += len(rows)
    return True


def _linked_head(rows: list[JoinedRow], head: bytes) -> bytes | None:
    """The ledger hash after these events, or None if any is not exactly as chained.

    The hot loop of `verify`, so `event_hash_of` and `link` are written out here (the same
    bytes, in the same order: `test_tamper` checks them against `ledger/chain.py`).
    """
    sha256, join, from_hex, domain = hashlib.sha256, b"".join, bytes.fromhex, EVENT_HASH_DOMAIN
    topics = _TOPIC_FIELDS
    try:
        for _, stream, version, same, event_hash, _, ledger_hash, topic, state in rows:
            if not same:
                return None
            topic_field = topics.get(topic) or _topic_field(topic)
            stream_bytes = stream.bytes if isinstance(stream, UUID) else from_hex(stream)
            digest = sha256(join((
                domain, stream_bytes, version.to_bytes(8, "big", signed=True), topic_field, state
            ))).digest()
            if digest != event_hash:
                return None
            head = sha256(head + digest).digest()
            if head != ledger_hash:
                return None
    except (ValueError, TypeError, OverflowError):
        return None  # a stream id or version no writer stores: named by the row-by-row check
    return head


_TOPIC_FIELDS: dict[str, bytes] = {}


def _topic_field(topic: str) -> bytes:
    """The topic as `event_hash_of` hashes it (its length first), cached: a ledger has a few
    dozen topics, and a tampered one cannot grow the cache without bound."""
    encoded = topic.encode("utf-8")
    field = len(encoded).to_bytes(4, "big") + encoded
    if len(_TOPIC_FIELDS) < 1024:
        _TOPIC_FIELDS[topic] = field
    return field


def _check_rows(
    events: list[EventRow],
    links: list[ChainRow],
    result: Verification,
    pending: list[CheckpointClaim],
) -> Problem | None:
    """The ledger chain over one batch, row by row: names the first row that does not match,
    and matches the checkpoints whose counts fall inside the batch."""
    by_position = {k[0]: k for k in links}
    stored = {e[0]: e for e in events}
    for position in sorted(by_position.keys() | stored.keys()):
        row, chained = stored.get(position), by_position.get(position)
        if row is None:
            assert chained is not None  # the position came from one of the two
            return _problem("missing", chained)
        _, stream, version, topic, state = row
        if chained is None:
            return Problem("unchained", position, _uuid(stream), event_id_of(state), version)
        if version != chained[2] or stream != chained[1]:
            return _problem("moved", chained, found=event_id_of(state))
        digest = event_hash_of(_stream_bytes(stream), version, topic, state)
        if digest != chained[4]:
            found = event_id_of(state)
            expected = _event_uuid(chained[3])
            kind: ProblemKind = "altered"
            if found is not None and expected is not None and found != expected:
                kind = "moved"
            return _problem(kind, chained, found=found)
        head = link(result.head, digest)
        if head != chained[6]:
            return _problem("ledger_link", chained)
        result.head, result.last_position = head, position
        result.events += 1
        if result.first is None:
            result.first = head
        while pending and pending[0].events <= result.events:
            claim = pending.pop(0)
            if claim.events < result.events:
                continue  # a count passed without a match is reported by `verify`
            if claim.head != head:
                return Problem("checkpoint_head", claim.events, _uuid(chained[1]),
                               _event_uuid(chained[3]), chained[2])
            result.checkpoints_matched.append(claim)
    return None


def _problem(kind: ProblemKind, chained: ChainRow, found: UUID | None = None) -> Problem:
    """A problem at a chain row, named by the row's position, case, event and version."""
    return Problem(kind, chained[0], _uuid(chained[1]), _event_uuid(chained[3]), chained[2],
                   found)


CASE_HEADS_HELD = 150_000
"""Case chain heads verify keeps (some 250 bytes each); an older one is read back when needed.

The rows come in position order, and a case's events are close together in it: at ten
million events (1.27 million cases) none needed a read; at a million events with the
daemon's first round at the end (a reminder for each of 100,000 open cases) 50,000 held
heads meant 141,000 reads, 150,000 none. 150,000 heads are some 40 MB."""


class CaseChains:
    """Each case's chain, checked row by row in position order; keeps the first break.

    Holds the heads (last version and case hash) of at most CASE_HEADS_HELD cases, letting
    go of the one taken in first: a ledger of ten million events has over a million cases, and one head
    each made verify's memory grow with the ledger. The head of a case let go is read back
    from the chain table (its row with the highest position before the batch), which is the
    head it had when it was let go: that row was checked when it was met.
    """

    def __init__(self, reader: ChainReader | None = None, held: int | None = None) -> None:
        self.heads: dict[Any, tuple[int, bytes]] = {}
        # The order the heads were taken in, to let go of the first. Not the dict's own
        # order: a dict emptied from the front finds its first key slower with every
        # deletion (10M events: 100 s against 63).
        self.taken: deque[Any] = deque()
        self.reader, self.held = reader, held or CASE_HEADS_HELD
        self.first_problem: Problem | None = None

    def check(
        self,
        rows: list[ChainRow] | list[JoinedRow],
        event_id_at: Callable[[int], UUID | None] | None = None,
    ) -> None:
        """Check the rows (chain rows, or events beside theirs), in position order.

        A `JoinedRow` holds no event id: `event_id_at` finds it when a problem is named.
        """
        self._recall(rows)
        heads, taken, sha256 = self.heads, self.taken, hashlib.sha256
        for row in rows:
            stream, version, case_hash = row[1], row[2], row[5]
            last = heads.get(stream)
            if last is None:
                taken.append(stream)
            previous, expected = (GENESIS, 1) if last is None else (last[1], last[0] + 1)
            if version != expected:
                self._found("case_gap", row, event_id_at)
            elif sha256(previous + row[4]).digest() != case_hash:  # type: ignore[operator]
                self._found("case_link", row, event_id_at)
            heads[stream] = (version, case_hash)  # type: ignore[assignment]
        while len(heads) > self.held:  # the first taken goes first; if still under way,
            heads.pop(taken.popleft(), None)  # it is read back when next met

    def _recall(self, rows: list[ChainRow] | list[JoinedRow]) -> None:
        """Read back the heads of the batch's cases that were let go (not a first event)."""
        if self.reader is None or not rows:
            return
        heads = self.heads
        # Not a case that begins in this batch: it has nothing before it to read back.
        begun = {row[1] for row in rows if row[2] == 1}
        wanted = list({row[1] for row in rows if row[1] not in heads} - begun)
        if wanted:
            found = self.reader.case_heads(wanted, before=rows[0][0])
            heads.update(found)
            self.taken.extend(found)

    def _found(
        self,
        kind: ProblemKind,
        row: ChainRow | JoinedRow,
        event_id_at: Callable[[int], UUID | None] | None,
    ) -> None:
        # Rows come in position order: the first found is the earliest.
        if self.first_problem is not None:
            return
        event_id = _event_uuid(row[3]) if event_id_at is None else event_id_at(row[0])
        self.first_problem = Problem(kind, row[0], _uuid(row[1]), event_id, row[2])
