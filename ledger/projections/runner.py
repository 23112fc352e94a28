"""Brings projections up to date from the event log: rows and positions in one transaction.

Each batch of notifications is applied in one database transaction that also moves every
projection's tracked position, so a crash at any point neither skips nor repeats an event.
The transaction first takes the tracking rows (a row lock on PostgreSQL, the write lock on
SQLite), so two processes catching up at once take turns instead of applying twice.

A writer whose projections stand right before the events it saves applies them inside the
save's own transaction (`SaveRefresh`, under a savepoint): one commit per command, not two.
Anything else — projections behind, another process holding the positions, a failure in
the savepoint — leaves the work to a catch-up after the commit.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from threading import Event as StopSignal
from typing import Any, cast
from uuid import UUID

from ledger.case import Case
from ledger.events import CaseEvent, RulebookAdopted
from ledger.events.ledger import LEDGER_ID
from ledger.heap import fewer_collections
from ledger.policies.rulebook import Rulebook
from ledger.projections.base import CaseChange, Projection, Rows
from ledger.projections.row_makers import PARALLEL_FROM, Batch, RowMakers, default_workers
from ledger.projections.sql import Cursor, Database, as_uuid

Progress = Callable[[int], None]
StoredRow = tuple[Any, str, bytes]
"""A stored event as a rebuild reads it: (its stream's key, topic, state)."""
Writes = list[tuple[str, list[tuple[Any, ...]]]]
"""Statements with the rows each is executed for (`executemany`), in order."""

TRACKING_TABLE = "bti_projection_positions"
REBUILD_TABLE = "bti_projection_rebuilds"
"""How far each rebuild under way has got: the head it rebuilds to and the last case done."""
REBUILD_SUFFIX = "_rebuild"
CASE_CACHE_SIZE = 2_000
"""Cases kept folded in memory between batches of the live catch-up. A folded case holds
its events (~100 KB for a long one): 20,000 of them made the daemon 2.4 GB at a million
events; a batch touches at most `batch_size` cases, and a case pushed out is read again."""
REBUILD_BATCH_SIZE = 2_000
"""Events per transaction (and per worker's batch) in a rebuild. At 98k events, 2,000 was as
fast as 5,000 (each commit waits for the disk, but 50 of them are nothing) and a worker's
peak fell from 93 to 68 MB, the rebuilding process's from 83 to 67 MB."""


@dataclass(frozen=True)
class Target:
    """A projection together with the tables and tracking name it writes to."""

    projection: Projection
    tracking_name: str
    table: dict[str, str]


class SaveRefresh:
    """The live projections brought past one save's events inside that save's transaction.

    The recorder calls it (as `within`, `ledger/chain.py`) once the events are inserted, under
    a savepoint. `applied` says whether it did the work; if it did not, or failed and was
    rolled back to the savepoint, the caller catches up after the commit, as before.
    """

    def __init__(self, runner: ProjectionRunner) -> None:
        self.runner = runner
        self.applied = False
        self.called = False

    def __call__(self, raw: Any, positions: Sequence[int]) -> None:
        self.called = True
        self.applied = False  # a save retried by the recorder calls it again
        self.applied = self.runner.apply_saved(Cursor(raw, self.runner.db.dialect), positions)

    def abandon(self) -> None:
        """The save failed: forget what was folded from its events, which were not stored."""
        if self.called:
            self.runner.forget_folded()


class ProjectionRunner:
    """Keeps the ledger's projections following its event log."""

    def __init__(
        self, database: Database, projections: Sequence[Projection], batch_size: int = 500,
        rebuild_batch_size: int = REBUILD_BATCH_SIZE,
    ) -> None:
        self.db = database
        self.projections = {p.name: p for p in projections}
        self.batch_size = batch_size
        self.rebuild_batch_size = rebuild_batch_size
        self.rebuild_workers = default_workers()
        """Worker processes a rebuild of `PARALLEL_FROM` events or more uses (0: none)."""
        self._cases: OrderedDict[UUID, Case] = OrderedDict()
        self._rulebook: tuple[int, Rulebook] | None = None
        """The last rulebook parsed, with the position of its adoption."""
        self._ready = False

    # ---- tables ------------------------------------------------------------------------

    def live(self, projection: Projection) -> Target:
        return Target(
            projection, projection.name,
            {t: self.db.table(f"bti_{t}") for t in projection.tables},
        )

    def rebuilding(self, projection: Projection) -> Target:
        return Target(
            projection, projection.name + REBUILD_SUFFIX,
            {t: self.db.table(f"bti_{t}{REBUILD_SUFFIX}") for t in projection.tables},
        )

    def setup(self) -> None:
        """Create the tracking table and every projection's live tables if missing."""
        if self._ready:
            return
        with self.db.transaction() as cursor:
            if self.db.dialect == "postgres":
                # Two processes opening a new ledger at once take turns here: PostgreSQL's
                # CREATE TABLE IF NOT EXISTS is not safe against a concurrent one (the
                # second fails on the table's row type, "already exists").
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))",
                               (f"{self.db.schema or 'public'}.{TRACKING_TABLE}",))
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {self.db.table(TRACKING_TABLE)} "
                "(name TEXT PRIMARY KEY, position BIGINT NOT NULL)"
            )
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {self.db.table(REBUILD_TABLE)} "
                "(name TEXT PRIMARY KEY, head BIGINT NOT NULL, last_case TEXT NOT NULL)"
            )
            for projection in self.projections.values():
                target = self.live(projection)
                projection.create_tables(cursor, target.table)
                projection.create_indexes(cursor, target.table)
                self._ensure_tracking(cursor, target.tracking_name)
        self._ready = True

    def _ensure_tracking(self, cursor: Cursor, name: str) -> None:
        tracking = self.db.table(TRACKING_TABLE)
        cursor.execute(f"SELECT 1 FROM {tracking} WHERE name = %s", (name,))
        if cursor.fetchone() is None:
            cursor.execute(f"INSERT INTO {tracking} (name, position) VALUES (%s, 0)", (name,))

    def positions(self) -> dict[str, int]:
        """Every tracked position by name (live projections and rebuilds under way)."""
        self.setup()
        with self.db.transaction() as cursor:
            cursor.execute(f"SELECT name, position FROM {self.db.table(TRACKING_TABLE)}")
            return {str(name): int(pos) for name, pos in cursor.fetchall()}

    # ---- following the log -------------------------------------------------------------

    def catch_up(self, progress: Progress | None = None) -> int:
        """Apply every notification not yet applied to the live projections; returns how many."""
        self.setup()
        targets = [self.live(p) for p in self.projections.values()]
        return self._run(targets, progress, self.batch_size)

    def _run(self, targets: list[Target], progress: Progress | None, size: int) -> int:
        done = 0
        while True:
            with self.db.transaction() as cursor:
                count = self._batch(cursor, targets, size)
            done += count
            if progress and count:
                progress(count)
            if count < size:
                return done

    # ---- within a save -----------------------------------------------------------------

    def within_save(self) -> SaveRefresh:
        """A refresh for the recorder to run in one save's own transaction (`SaveRefresh`)."""
        self.setup()  # in a transaction of its own: never inside the save's
        return SaveRefresh(self)

    def apply_saved(self, cursor: Cursor, positions: Sequence[int]) -> bool:
        """Apply the events just inserted at `positions`, in their transaction, if every live
        projection stands right before them; False, with nothing done, if not."""
        targets = [self.live(p) for p in self.projections.values()]
        held = self._claim_positions(cursor, [t.tracking_name for t in targets])
        if held is None:
            return False  # another process is catching up: it applies these after the commit
        rows = self.db.select_notifications(cursor, min(held.values()), len(positions) + 1)
        if [row[0] for row in rows] != sorted(positions):
            return False  # other events come first (a follower's, or a swap's): a catch-up's
        self._apply(cursor, targets, held, rows)
        return True

    def _claim_positions(self, cursor: Cursor, names: list[str]) -> dict[str, int] | None:
        """The positions, locked for this transaction, or None if another one holds them."""
        statement = (
            f"SELECT name, position FROM {self.db.table(TRACKING_TABLE)} "
            f"WHERE name IN ({', '.join(['%s'] * len(names))})"
        )
        if self.db.dialect == "postgres":
            # Skipped, never waited for: the saving transaction holds the events table's
            # lock, and waiting here for a catch-up's batch would hold up every writer.
            statement += " FOR UPDATE SKIP LOCKED"
        # On SQLite the save's INSERT already holds the database's one write lock.
        cursor.execute(statement, names)
        found = {str(name): int(pos) for name, pos in cursor.fetchall()}
        return found if len(found) == len(names) else None

    def forget_folded(self) -> None:
        """Forget the cases folded in memory and the rulebook parsed (after a save that
        failed once its events were folded here: a case must never hold an event not stored)."""
        self._cases.clear()
        self._rulebook = None

    def _batch(self, cursor: Cursor, targets: list[Target], size: int | None = None) -> int:
        """One transaction's worth: lock positions, apply what follows them, move them on."""
        positions = self._lock_positions(cursor, [t.tracking_name for t in targets])
        rows = self.db.select_notifications(
            cursor, min(positions.values()), size or self.batch_size
        )
        if rows:
            self._apply(cursor, targets, positions, rows)
        return len(rows)

    def _apply(
        self, cursor: Cursor, targets: list[Target], positions: dict[str, int],
        rows: list[tuple[int, UUID, int, str, bytes]],
    ) -> None:
        """Apply `rows` (the notifications right after the smallest of the locked
        `positions`) to the targets, and move every target's position to the last of them."""
        start = min(positions.values())
        last = rows[-1][0]
        rulebook = self._rulebook_at(cursor, start)
        sealer = self.db.store.sealer
        if sealer is not None:
            # The keys to open the batch's events with, in one query, not one per case.
            sealer.keys.load(list({row[1] for row in rows} - {LEDGER_ID}), cursor.raw)
        everything: set[str] = set()
        newest: dict[UUID, int] = {}  # each case folded here: the position of its newest event
        decode = self.db.store.decode
        for notification_id, stream, version, topic, state in rows:
            event = decode(topic, state)
            if isinstance(event, RulebookAdopted):
                rulebook = self._remember_rulebook(notification_id, event)
                for target in targets:
                    if notification_id > positions[target.tracking_name]:
                        everything.add(target.tracking_name)  # deadlines follow the rulebook
                continue
            self._fold(cursor, stream, version, cast(CaseEvent, event))
            newest[stream] = notification_id
        # Which cases each target must refresh: those with events after its own position.
        changed = {
            t.tracking_name: {
                c for c, at in newest.items() if at > positions[t.tracking_name]
            }
            for t in targets
        }
        if rulebook is None:
            raise RuntimeError("the event log has case events before any RulebookAdopted")
        if everything:
            known = self._case_ids_until(cursor, last)
            for name in everything:
                changed[name] = known
        self._write(cursor, targets, changed, rulebook=rulebook, last=last, folded=newest.keys())
        names = [t.tracking_name for t in targets]
        cursor.execute(
            f"UPDATE {self.db.table(TRACKING_TABLE)} SET position = %s "
            f"WHERE name IN ({', '.join(['%s'] * len(names))}) RETURNING name",
            [last, *names],
        )
        # Fetched, so that in a save's pipeline (PostgreSQL) every statement of the batch has
        # answered here, inside the savepoint, and not first at the COMMIT.
        cursor.fetchall()

    def _write(
        self, cursor: Cursor, targets: list[Target], changed: dict[str, set[UUID]], *,
        rulebook: Rulebook, last: int, folded: Collection[UUID],
    ) -> None:
        """Replace the rows of the changed cases: one DELETE and one INSERT per table.

        `folded`: the cases this batch's events were folded into, up to date in memory.
        """
        wanted = sorted(set().union(*changed.values()))
        if not wanted:
            return
        sealer = self.db.store.sealer
        if sealer is not None:
            sealer.keys.load(wanted, cursor.raw)  # every key the batch seals with, in one query
        cases: dict[UUID, Case] = {}
        for case_id in wanted:
            held = self._cases.get(case_id) if case_id in folded else None
            cases[case_id] = held if held is not None else self._case_until(cursor, case_id, last)
        self._write_cases(cursor, targets, cases, changed, rulebook)

    def _write_cases(
        self, cursor: Cursor, targets: list[Target], cases: dict[UUID, Case],
        changed: dict[str, set[UUID]] | None, rulebook: Rulebook,
    ) -> None:
        """Replace the rows of `cases` (in each target, those `changed` names; None: all)."""
        self._write_rows(cursor, self._case_rows(cursor, targets, cases, changed, rulebook))

    def _case_rows(
        self, cursor: Cursor, targets: list[Target], cases: dict[UUID, Case],
        changed: dict[str, set[UUID]] | None, rulebook: Rulebook,
    ) -> Writes:
        """The statements that replace the rows of `cases`: one DELETE and one INSERT per
        table, each with its rows (`cursor` only reads the keys that seal them)."""
        sealer = self.db.store.sealer
        # One change per case, shared by the projections: deadlines are computed once.
        shared = {
            case_id: CaseChange(case, rulebook, sealer)
            for case_id, case in cases.items() if case.status != "new"
        }
        writes: Writes = []
        for target in targets:
            named = None if changed is None else changed[target.tracking_name]
            case_ids = [c for c in cases if (named is None or c in named) and c in shared]
            projection = target.projection
            collected: Rows = {logical: [] for logical in projection.tables}
            for case_id in case_ids:
                for logical, found in projection.rows(cursor, shared[case_id]).items():
                    collected[logical].extend(found)
            keys: list[tuple[Any, ...]] = [(str(c),) for c in case_ids]
            for logical, name in target.table.items():
                columns = projection.columns[logical]
                writes.append((f"DELETE FROM {name} WHERE case_id = %s", keys))
                writes.append((
                    f"INSERT INTO {name} ({', '.join(columns)}) "
                    f"VALUES ({', '.join(['%s'] * len(columns))})",
                    list(collected[logical]),
                ))
        return writes

    @staticmethod
    def _write_rows(cursor: Cursor, writes: Writes) -> None:
        # Every table's DELETE and INSERT in one round trip on PostgreSQL (they were eight,
        # most of recording one action's time there).
        with cursor.pipelined():
            for statement, rows in writes:
                cursor.executemany(statement, rows)

    def _lock_positions(self, cursor: Cursor, names: list[str]) -> dict[str, int]:
        tracking = self.db.table(TRACKING_TABLE)
        marks = ", ".join(["%s"] * len(names))
        # A write first: it takes the lock before anything is read, so no other catch-up
        # can read the same positions until this transaction ends.
        cursor.execute(
            f"UPDATE {tracking} SET position = position WHERE name IN ({marks})", names
        )
        cursor.execute(f"SELECT name, position FROM {tracking} WHERE name IN ({marks})", names)
        found = {str(name): int(pos) for name, pos in cursor.fetchall()}
        missing = set(names) - set(found)
        if missing:
            raise RuntimeError(f"projection tracking rows missing: {sorted(missing)}")
        return found

    # ---- folding cases -----------------------------------------------------------------

    def _fold(self, cursor: Cursor, case_id: UUID, version: int, event: CaseEvent) -> None:
        case = self._cases.get(case_id)
        if version == 1:
            case = Case(id=case_id)  # its first event: nothing before it to read
            self._remember(case)
        elif case is None or case.version != version - 1:
            case = self._load(cursor, case_id, self.db.select_stream(cursor, case_id, below=version))
        else:
            self._cases.move_to_end(case_id)
        case._apply(event)

    def _case_until(self, cursor: Cursor, case_id: UUID, position: int) -> Case:
        """The case as the events up to `position` make it, read from the store.

        Not from memory: another process may have added events since it was folded here.
        """
        return self._load(cursor, case_id, self.db.select_stream(cursor, case_id, upto=position))

    def _load(self, cursor: Cursor, case_id: UUID, stored: list[tuple[str, bytes]]) -> Case:
        decode = self.db.store.decode
        events = [decode(topic, state) for topic, state in stored]
        case = Case.replay(case_id, [e for e in events if isinstance(e, CaseEvent)])
        self._remember(case)
        return case

    def _remember(self, case: Case) -> None:
        self._cases[case.id] = case
        self._cases.move_to_end(case.id)
        while len(self._cases) > CASE_CACHE_SIZE:
            self._cases.popitem(last=False)

    def _case_ids_until(self, cursor: Cursor, position: int) -> set[UUID]:
        """Every case with an event at or before `position`."""
        column = self.db.position_column
        cursor.execute(
            f"SELECT DISTINCT originator_id FROM {self.db.events_table} "
            f"WHERE originator_id <> %s AND {column} <= %s",
            (self.db.stream_key(LEDGER_ID), position),
        )
        return {as_uuid(row[0]) for row in cursor.fetchall()}

    def _rulebook_at(self, cursor: Cursor, position: int) -> Rulebook | None:
        """The rulebook in force after notification `position` (the latest adopted by then)."""
        column = self.db.position_column
        cursor.execute(
            f"SELECT {column} FROM {self.db.events_table} WHERE originator_id = %s "
            f"AND {column} <= %s ORDER BY {column} DESC LIMIT 1",
            (self.db.stream_key(LEDGER_ID), position),
        )
        row = cursor.fetchone()
        if row is None:
            return None
        adopted_at = int(row[0])
        if self._rulebook is not None and self._rulebook[0] == adopted_at:
            return self._rulebook[1]  # the same adoption as last batch: no need to parse it
        cursor.execute(
            f"SELECT topic, state FROM {self.db.events_table} WHERE {column} = %s", (adopted_at,)
        )
        topic, state = cast(tuple[str, bytes], cursor.fetchone())
        event = cast(RulebookAdopted, self.db.store.decode(str(topic), bytes(state)))  # its only type
        return self._remember_rulebook(adopted_at, event)

    def _remember_rulebook(self, position: int, event: RulebookAdopted) -> Rulebook:
        rulebook = Rulebook.model_validate(event.rulebook_document)
        self._rulebook = (position, rulebook)
        return rulebook

    # ---- rebuilding --------------------------------------------------------------------

    def rebuild(self, names: Sequence[str] | None = None, progress: Progress | None = None) -> int:
        """Rebuild projections from the whole log beside the live ones, then swap them in.

        The live tables keep serving until the swap, which is one transaction. An
        interrupted rebuild continues where it stopped when run again.

        It rebuilds the log as it stood at its start (the head H): the rulebook in force at
        H, then the case events up to H case by case, in the order the event store keeps
        them (stream, version). Each case is folded from its first event to its last and
        its rows are written once, so memory holds one batch of cases, not every case under
        way as reading in log order would. Each batch records the last case done in the
        same transaction as its rows; the swap sets the positions to H, and the events
        recorded since then are applied as every new event is.
        """
        self.setup()
        chosen = [self.projections[n] for n in (names or list(self.projections))]
        targets = [self.rebuilding(p) for p in chosen]
        head = self._start_rebuild(targets)
        done, more = 0, True
        with fewer_collections():  # every case folded and its rows made: millions of objects
            if self.rebuild_workers > 0 and head >= PARALLEL_FROM:
                done, more = self._rebuild_with_workers(targets, head, progress), False
            while more:
                with self.db.transaction() as cursor:
                    count, more = self._rebuild_batch(
                        cursor, targets, head, self.rebuild_batch_size
                    )
                done += count
                if progress and count:
                    progress(count)
        with self.db.transaction() as cursor:
            self._swap(cursor, targets, head)
        live = [self.live(p) for p in chosen]
        # Without statistics the planner took tilsyn's whole-municipality deadline list on
        # the fresh tables for one row and spent 40 s on it.
        self.db.analyze([table for target in live for table in target.table.values()])
        return done + self._run(live, progress, self.batch_size)

    def _start_rebuild(self, targets: list[Target]) -> int:
        """Make each target's tables and progress ready; returns the head to rebuild to.

        A rebuild already under way keeps its head; a target with none (or another head,
        or tables from an older kind of rebuild) starts anew with empty tables.
        """
        names = [t.tracking_name for t in targets]
        with self.db.transaction() as cursor:
            for target in targets:
                self._ensure_tracking(cursor, target.tracking_name)
            self._lock_positions(cursor, names)  # another rebuild starting waits for this one
            found = self._rebuild_progress(cursor, names)
            if found:
                head = max(h for h, _ in found.values())
            else:
                cursor.execute(f"SELECT MAX({self.db.position_column}) FROM {self.db.events_table}")
                row = cursor.fetchone()
                head = int(row[0]) if row and row[0] is not None else 0
            progress = self.db.table(REBUILD_TABLE)
            for target in targets:
                if target.tracking_name in found and found[target.tracking_name][0] == head:
                    target.projection.create_tables(cursor, target.table)
                    continue
                for table in target.table.values():
                    cursor.execute(f"DROP TABLE IF EXISTS {table}")
                target.projection.create_tables(cursor, target.table)
                cursor.execute(f"DELETE FROM {progress} WHERE name = %s", (target.tracking_name,))
                cursor.execute(
                    f"INSERT INTO {progress} (name, head, last_case) VALUES (%s, %s, '')",
                    (target.tracking_name, head),
                )
        return head

    def _rebuild_progress(self, cursor: Cursor, names: list[str]) -> dict[str, tuple[int, str]]:
        """Each named rebuild's head and the last case it has done ('' before the first)."""
        marks = ", ".join(["%s"] * len(names))
        cursor.execute(
            f"SELECT name, head, last_case FROM {self.db.table(REBUILD_TABLE)} WHERE name IN ({marks})",
            names,
        )
        return {str(name): (int(head), str(after)) for name, head, after in cursor.fetchall()}

    def _rebuild_batch(
        self, cursor: Cursor, targets: list[Target], head: int, size: int
    ) -> tuple[int, bool]:
        """Write the rows of the next cases after the last one done; returns (events, more?)."""
        after = self._claim_rebuild(cursor, targets, head)
        count = self._ledger_events(cursor, head, after)
        found = self._next_batch(cursor, head, after, size)
        if found is None:
            return count, False
        last, more = found
        names = [t.tracking_name for t in targets]
        events, writes = self.rebuilt_rows(cursor, head, after, last, names)
        self._write_rebuilt(cursor, names, writes, last)
        return count + events, more

    def _rebuild_with_workers(
        self, targets: list[Target], head: int, progress: Progress | None
    ) -> int:
        """The rebuild's batches read and made into rows by worker processes
        (`row_makers.py`) while this process writes the finished ones, in order, each with
        the rebuild's progress, as `_rebuild_batch` does; returns events read."""
        names = [t.tracking_name for t in targets]
        with self.db.transaction() as cursor:
            after = self._claim_rebuild(cursor, targets, head)
            ledger_events = self._ledger_events(cursor, head, after)
        done = 0
        waiting: deque[tuple[Batch, str, Any]] = deque()
        more = True
        with RowMakers(self.db.store, self.rebuild_workers) as makers:
            while more or waiting:
                # Two batches per worker under way: none waits while its next one is cut.
                while more and len(waiting) < 2 * makers.workers:
                    with self.db.transaction() as cursor:
                        found = self._next_batch(cursor, head, after, self.rebuild_batch_size)
                    if found is None:
                        more = False
                        break
                    last, more = found
                    waiting.append((makers.rows(head, after, last, names), after, last))
                    after = str(last)
                if not waiting:
                    break
                made, before, last = waiting.popleft()
                events, writes = made.result()
                with self.db.transaction() as cursor:
                    self._claim_rebuild(cursor, targets, head, expected=before)
                    self._write_rebuilt(cursor, names, writes, last)
                count, ledger_events = events + ledger_events, 0
                done += count
                if progress:
                    progress(count)
        return done + ledger_events

    def _claim_rebuild(
        self, cursor: Cursor, targets: list[Target], head: int, expected: str | None = None
    ) -> str:
        """Lock the rebuild's progress for this transaction; the last case every target has
        done ('' before the first), after checking no one restarted it or, if `expected` is
        given, moved it on from there."""
        names = [t.tracking_name for t in targets]
        self._lock_positions(cursor, names)  # two processes continuing at once take turns
        found = self._rebuild_progress(cursor, names)
        # Every target has done at least the cases up to the smallest; rewriting a case
        # another target has already done gives the same rows.
        after = min((a for _, a in found.values()), default="")
        if (
            set(found) != set(names) or any(h != head for h, _ in found.values())
            or (expected is not None and after != expected)
        ):
            raise RuntimeError("another process restarted or finished this rebuild meanwhile")
        return after

    def _next_batch(
        self, cursor: Cursor, head: int, after: str, size: int
    ) -> tuple[Any, bool] | None:
        """The last case of the next batch — whole cases after `after`, about `size` events
        (one case alone if it has more) — and whether more follow; None if none is left.

        Only the stream keys are read (the primary key's index): the events themselves are
        read by whoever makes the batch's rows."""
        where, params = self._after(head, after)
        cursor.execute(
            f"SELECT originator_id FROM {self.db.events_table} WHERE {where} "
            f"ORDER BY originator_id, originator_version LIMIT %s",
            [*params, size],
        )
        keys = [row[0] for row in cursor.fetchall()]
        if not keys:
            return None
        more, last = len(keys) == size, keys[-1]
        if more and keys[0] != last:  # the last case may go on: it starts the next batch
            last = next(key for key in reversed(keys) if key != last)
        return last, more

    def rebuilt_rows(
        self, cursor: Cursor, head: int, after: str, last: Any, names: Sequence[str]
    ) -> tuple[int, Writes]:
        """The events read and the statements for the cases after `after` up to `last`
        (a batch `_next_batch` cut), for the rebuilding targets `names`, by the rulebook in
        force at `head`. Writes nothing: a worker process runs it too (`row_makers.py`)."""
        rulebook = self._rulebook_at(cursor, head)
        if rulebook is None:
            raise RuntimeError("the event log has case events before any RulebookAdopted")
        targets = [t for t in map(self.rebuilding, self.projections.values())
                   if t.tracking_name in names]
        stored = self._case_events(cursor, head, after, last)
        cases = self._fold_cases(cursor, stored)
        writes = self._case_rows(cursor, targets, cases, None, rulebook)
        sealer = self.db.store.sealer
        if sealer is not None:
            sealer.keys.forget(cases)  # read case by case: these keys are not needed again
        return len(stored), writes

    def _write_rebuilt(
        self, cursor: Cursor, names: list[str], writes: Writes, last_case: Any
    ) -> None:
        """Write a batch's rows and move the rebuild past its last case, in one transaction."""
        self._write_rows(cursor, writes)
        cursor.execute(
            f"UPDATE {self.db.table(REBUILD_TABLE)} SET last_case = %s "
            f"WHERE name IN ({', '.join(['%s'] * len(names))})",
            [str(last_case), *names],
        )

    def _after(self, head: int, after: str) -> tuple[str, list[Any]]:
        """The condition for case events up to `head` of the streams after `after`."""
        where, params = [f"{self.db.position_column} <= %s", "originator_id <> %s"], [
            head, self.db.stream_key(LEDGER_ID)
        ]
        if after:
            where.append("originator_id > %s")
            params.append(self.db.stream_key(UUID(after)))
        return " AND ".join(where), params

    def _case_events(self, cursor: Cursor, head: int, after: str, last: Any) -> list[StoredRow]:
        """Case events up to `head` of the streams after `after` up to `last`, in stream
        order: (stream key, topic, state).

        The order is the event store's primary key, so each batch is a range of its index
        (keyset, not OFFSET, which would scan everything before it again).
        """
        where, params = self._after(head, after)
        cursor.execute(
            f"SELECT originator_id, topic, state FROM {self.db.events_table} "
            f"WHERE {where} AND originator_id <= %s ORDER BY originator_id, originator_version",
            [*params, last],
        )
        return [(row[0], str(row[1]), bytes(row[2])) for row in cursor.fetchall()]

    def _ledger_events(self, cursor: Cursor, head: int, after: str) -> int:
        """How many events of the ledger's own stream are at `head` or before, to count
        with the rebuild's first batch (`after` is ''); 0 for any later one."""
        if after:
            return 0
        cursor.execute(
            f"SELECT COUNT(*) FROM {self.db.events_table} "
            f"WHERE originator_id = %s AND {self.db.position_column} <= %s",
            (self.db.stream_key(LEDGER_ID), head),
        )
        row = cursor.fetchone()
        return int(row[0]) if row else 0

    def _fold_cases(self, cursor: Cursor, stored: list[StoredRow]) -> dict[UUID, Case]:
        """Each case of a batch folded from all its events (given in stream order)."""
        streams: dict[Any, UUID] = {}
        for key, _, _ in stored:
            if key not in streams:
                streams[key] = key if isinstance(key, UUID) else UUID(key)
        sealer = self.db.store.sealer
        sealer.keys.load(list(streams.values()), cursor.raw)  # the batch's keys in one query
        cases: dict[UUID, Case] = {}
        for key, topic, state in stored:
            case_id = streams[key]
            case = cases.get(case_id)
            if case is None:
                case = cases[case_id] = Case(id=case_id)
            case._apply(cast(CaseEvent, sealer.open_event(topic, state, case_id)))
        return cases

    def _swap(self, cursor: Cursor, targets: list[Target], head: int) -> None:
        tracking = self.db.table(TRACKING_TABLE)
        names = [t.tracking_name for t in targets]
        self._lock_positions(cursor, names)
        found = self._rebuild_progress(cursor, names)
        if set(found) != set(names) or any(h != head for h, _ in found.values()):
            raise RuntimeError("another process restarted or finished this rebuild meanwhile")
        for target in targets:
            live = self.live(target.projection)
            self._lock_positions(cursor, [live.tracking_name])
            for logical, rebuilt in target.table.items():
                cursor.execute(f"DROP TABLE IF EXISTS {live.table[logical]}")
                cursor.execute(f"ALTER TABLE {rebuilt} RENAME TO bti_{logical}")
                if self.db.dialect == "postgres":
                    # PostgreSQL names the primary key after the table it was made for.
                    cursor.execute(
                        f"ALTER TABLE {live.table[logical]} RENAME CONSTRAINT "
                        f"bti_{logical}{REBUILD_SUFFIX}_pkey TO bti_{logical}_pkey"
                    )
            target.projection.create_indexes(cursor, live.table)
            cursor.execute(
                f"UPDATE {tracking} SET position = %s WHERE name = %s", (head, live.tracking_name)
            )
            for table in (tracking, self.db.table(REBUILD_TABLE)):
                cursor.execute(f"DELETE FROM {table} WHERE name = %s", (target.tracking_name,))

    def drop_rebuilds(self) -> None:
        """Forget unfinished rebuilds (their tables and positions)."""
        self.setup()
        with self.db.transaction() as cursor:
            for projection in self.projections.values():
                target = self.rebuilding(projection)
                for table in target.table.values():
                    cursor.execute(f"DROP TABLE IF EXISTS {table}")
                for table in (TRACKING_TABLE, REBUILD_TABLE):
                    cursor.execute(
                        f"DELETE FROM {self.db.table(table)} WHERE name = %s",
                        (target.tracking_name,),
                    )

    # ---- following as a separate process -------------------------------------------------

    def follow(self, stop: StopSignal, interval: float = 1.0, progress: Progress | None = None) -> None:
        """Catch up, then keep polling the log until `stop` is set (for `bti project --follow`)."""
        while not stop.is_set():
            if self.catch_up(progress) == 0:
                stop.wait(interval)
