"""Brings projections up to date from the event log: rows and positions in one transaction.

Each batch of notifications is applied in one database transaction that also moves every
projection's tracked position, so a crash at any point neither skips nor repeats an event.
The transaction first takes the tracking rows (a row lock on PostgreSQL, the write lock on
SQLite), so two processes catching up at once take turns instead of applying twice.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from threading import Event as StopSignal
from typing import cast
from uuid import UUID

from ledger.case import Case
from ledger.events import CaseEvent, RulebookAdopted
from ledger.events.ledger import LEDGER_ID
from ledger.policies.rulebook import Rulebook
from ledger.projections.base import CaseChange, Projection
from ledger.projections.sql import Cursor, Database

Progress = Callable[[int], None]

TRACKING_TABLE = "bti_projection_positions"
REBUILD_SUFFIX = "_rebuild"
CASE_CACHE_SIZE = 20_000
"""Cases kept folded in memory between batches; enough for a rebuild to rarely re-read."""


@dataclass(frozen=True)
class Target:
    """A projection together with the tables and tracking name it writes to."""

    projection: Projection
    tracking_name: str
    table: dict[str, str]


class ProjectionRunner:
    """Keeps the ledger's projections following its event log."""

    def __init__(
        self, database: Database, projections: Sequence[Projection], batch_size: int = 500
    ) -> None:
        self.db = database
        self.projections = {p.name: p for p in projections}
        self.batch_size = batch_size
        self._cases: OrderedDict[UUID, Case] = OrderedDict()
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
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {self.db.table(TRACKING_TABLE)} "
                "(name TEXT PRIMARY KEY, position BIGINT NOT NULL)"
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
        return self._run(targets, progress)

    def _run(self, targets: list[Target], progress: Progress | None) -> int:
        done = 0
        while True:
            with self.db.transaction() as cursor:
                count = self._batch(cursor, targets)
            done += count
            if progress and count:
                progress(count)
            if count < self.batch_size:
                return done

    def _batch(self, cursor: Cursor, targets: list[Target]) -> int:
        """One transaction's worth: lock positions, apply what follows them, move them on."""
        positions = self._lock_positions(cursor, [t.tracking_name for t in targets])
        start = min(positions.values())
        rows = self.db.select_notifications(cursor, start, self.batch_size)
        if not rows:
            return 0
        rulebook = self._rulebook_at(cursor, start)
        # Which cases each target must refresh: those with events after its own position.
        changed: dict[str, set[UUID]] = {t.tracking_name: set() for t in targets}
        everything: set[str] = set()
        for notification_id, stream, version, topic, state in rows:
            event = self.db.store.decode(topic, state)
            if isinstance(event, RulebookAdopted):
                rulebook = Rulebook.model_validate(event.rulebook_document)
                for target in targets:
                    if notification_id > positions[target.tracking_name]:
                        everything.add(target.tracking_name)  # deadlines follow the rulebook
                continue
            self._fold(cursor, stream, version, cast(CaseEvent, event))
            for target in targets:
                if notification_id > positions[target.tracking_name]:
                    changed[target.tracking_name].add(stream)
        if rulebook is None:
            raise RuntimeError("the event log has case events before any RulebookAdopted")
        for target in targets:
            case_ids: Iterable[UUID] = changed[target.tracking_name]
            if target.tracking_name in everything:
                case_ids = self._all_case_ids(cursor)
            for case_id in sorted(case_ids):
                case = self._case_now(cursor, case_id)
                if case.status != "new":
                    target.projection.refresh(
                        cursor, target.table, CaseChange(case, rulebook, self.db.store.sealer)
                    )
        last = rows[-1][0]
        tracking = self.db.table(TRACKING_TABLE)
        cursor.executemany(
            f"UPDATE {tracking} SET position = %s WHERE name = %s",
            [(last, t.tracking_name) for t in targets],
        )
        return len(rows)

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
        if case is None or case.version != version - 1:
            case = self._load(cursor, case_id, below=version)
        case._apply(event)
        self._remember(case)

    def _case_now(self, cursor: Cursor, case_id: UUID) -> Case:
        case = self._cases.get(case_id)
        return case if case is not None else self._load(cursor, case_id, below=2**62)

    def _load(self, cursor: Cursor, case_id: UUID, below: int) -> Case:
        decode = self.db.store.decode
        events = [decode(topic, state) for topic, state in self.db.select_stream(cursor, case_id, below)]
        case = Case.replay(case_id, [e for e in events if isinstance(e, CaseEvent)])
        self._remember(case)
        return case

    def _remember(self, case: Case) -> None:
        self._cases[case.id] = case
        self._cases.move_to_end(case.id)
        while len(self._cases) > CASE_CACHE_SIZE:
            self._cases.popitem(last=False)

    def _all_case_ids(self, cursor: Cursor) -> set[UUID]:
        cursor.execute(
            f"SELECT DISTINCT originator_id FROM {self.db.events_table} WHERE originator_id <> %s",
            (self.db.stream_key(LEDGER_ID),),
        )
        return {row[0] if isinstance(row[0], UUID) else UUID(str(row[0])) for row in cursor.fetchall()}

    def _rulebook_at(self, cursor: Cursor, position: int) -> Rulebook | None:
        """The rulebook in force after notification `position` (the latest adopted by then)."""
        column = self.db.position_column
        cursor.execute(
            f"SELECT topic, state FROM {self.db.events_table} WHERE originator_id = %s "
            f"AND {column} <= %s ORDER BY {column} DESC LIMIT 1",
            (self.db.stream_key(LEDGER_ID), position),
        )
        row = cursor.fetchone()
        if row is None:
            return None
        event = cast(RulebookAdopted, self.db.store.decode(str(row[0]), bytes(row[1])))  # its only type
        return Rulebook.model_validate(event.rulebook_document)

    # ---- rebuilding --------------------------------------------------------------------

    def rebuild(self, names: Sequence[str] | None = None, progress: Progress | None = None) -> int:
        """Rebuild projections from the whole log beside the live ones, then swap them in.

        The live tables keep serving until the swap, which is one transaction. An
        interrupted rebuild continues where it stopped when run again.
        """
        self.setup()
        chosen = [self.projections[n] for n in (names or list(self.projections))]
        targets = [self.rebuilding(p) for p in chosen]
        with self.db.transaction() as cursor:
            for target in targets:
                target.projection.create_tables(cursor, target.table)
                self._ensure_tracking(cursor, target.tracking_name)
        self._cases.clear()
        done = self._run(targets, progress)
        with self.db.transaction() as cursor:
            done += self._batch_until_head(cursor, targets)
            self._swap(cursor, targets)
        self._cases.clear()
        return done

    def _batch_until_head(self, cursor: Cursor, targets: list[Target]) -> int:
        total = 0
        while (count := self._batch(cursor, targets)) > 0:
            total += count
        return total

    def _swap(self, cursor: Cursor, targets: list[Target]) -> None:
        tracking = self.db.table(TRACKING_TABLE)
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
                f"UPDATE {tracking} SET position = "
                f"(SELECT position FROM {tracking} WHERE name = %s) WHERE name = %s",
                (target.tracking_name, live.tracking_name),
            )
            cursor.execute(f"DELETE FROM {tracking} WHERE name = %s", (target.tracking_name,))

    def drop_rebuilds(self) -> None:
        """Forget unfinished rebuilds (their tables and positions)."""
        self.setup()
        with self.db.transaction() as cursor:
            for projection in self.projections.values():
                target = self.rebuilding(projection)
                for table in target.table.values():
                    cursor.execute(f"DROP TABLE IF EXISTS {table}")
                cursor.execute(
                    f"DELETE FROM {self.db.table(TRACKING_TABLE)} WHERE name = %s",
                    (target.tracking_name,),
                )

    # ---- following as a separate process -------------------------------------------------

    def follow(self, stop: StopSignal, interval: float = 1.0, progress: Progress | None = None) -> None:
        """Catch up, then keep polling the log until `stop` is set (for `bti project --follow`)."""
        while not stop.is_set():
            if self.catch_up(progress) == 0:
                stop.wait(interval)
