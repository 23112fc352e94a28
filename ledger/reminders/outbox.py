"""The outbox: the reminders this ledger's daemon issued, one row per channel, and how their
delivery stands.

Why a table of its own and not a projection of the event log: only reminders the daemon
issued *here* are delivered. A ReminderIssued that arrived by `bti import`, or that a
rebuild or replay reads again, is history, never a new message to anyone (ARCHITECTURE.md,
"Replay never reminds"); a projection rebuilt from the log could not tell the two apart.

The row is written *before* the event is recorded (the reminder's id is known in advance,
uuid5 of deadline and stage), so a crash between the two never loses a reminder:

    intended ──(ReminderIssued recorded, or found already recorded)──▶ pending
    pending ──(a channel accepted it; ReminderDelivered)──▶ delivered
    pending ──(an attempt failed; ReminderDeliveryFailed with retry_at)──▶ pending, later
    pending ──(attempts used up, or a permanent error; no retry_at)──▶ failed
    pending ──(the case was closed before it went out)──▶ dropped
    ──(found in the case but issued elsewhere: imported)──▶ not_ours

An `intended` row whose event is not in the case (the daemon died in between, or the
ledger refused it) is never delivered; the next tick records the event if the deadline
still needs it. The events stay the truth: the table is only the daemon's work list, and
`delivered` is set after the ReminderDelivered is stored, so a crash in between delivers
again (at least once, the same idempotency key) and records the delivery once.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from uuid import UUID

import orjson

from ledger.projections.sql import Cursor, Database

Status = Literal["intended", "pending", "delivered", "failed", "dropped", "not_ours"]
UNDELIVERED: tuple[Status, ...] = ("pending", "failed")
"""Issued and not (yet) delivered: what `bti reminders --pending` lists."""

TABLE = "bti_reminder_outbox"
_CHUNK = 400
_COLUMNS = (
    "reminder_id, channel, case_id, deadline_id, rule, stage, due_at, recipients, "
    "late_by_seconds, status, attempts, created_at, issued_at, next_attempt_at, "
    "delivered_at, last_error"
)


@dataclass(frozen=True)
class OutboxRow:
    """One reminder through one channel."""

    reminder_id: UUID
    channel: str
    case_id: UUID
    deadline_id: str
    rule: str
    stage: str
    due_at: datetime
    recipients: tuple[str, ...]
    late_by_seconds: int | None
    status: Status
    attempts: int
    created_at: datetime
    issued_at: datetime | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class Intent:
    """A reminder about to be recorded: what the outbox keeps of it."""

    reminder_id: UUID
    case_id: UUID
    deadline_id: str
    rule: str
    stage: str
    due_at: datetime
    recipients: tuple[str, ...]
    late_by_seconds: int | None


def moment_text(moment: datetime | None) -> str | None:
    """A sortable text for a moment: ISO 8601 in UTC with microseconds (as the projections)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _value(value: object) -> object:
    """A column's value as the table keeps it (moments as sortable text)."""
    return moment_text(value) if isinstance(value, datetime) else value


def _moment(text: object) -> datetime | None:
    return None if text is None else _required(text)


def _required(text: object) -> datetime:
    return datetime.strptime(str(text), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _row(values: Sequence[object]) -> OutboxRow:
    (reminder, channel, case, deadline, rule, stage, due_at, recipients, late, status,
     attempts, created, issued, next_attempt, delivered, error) = values
    return OutboxRow(
        reminder_id=UUID(str(reminder)), channel=str(channel), case_id=UUID(str(case)),
        deadline_id=str(deadline), rule=str(rule), stage=str(stage), due_at=_required(due_at),
        recipients=tuple(orjson.loads(str(recipients))),
        late_by_seconds=None if late is None else int(str(late)),
        status=str(status),  # type: ignore[arg-type]
        attempts=int(str(attempts)), created_at=_required(created), issued_at=_moment(issued),
        next_attempt_at=_moment(next_attempt), delivered_at=_moment(delivered),
        last_error=None if error is None else str(error),
    )


class Outbox:
    """The outbox table in the ledger's own database (SQLite or PostgreSQL)."""

    def __init__(self, database: Database) -> None:
        self.db = database
        self.table = database.table(TABLE)
        self._ready = False

    def setup(self) -> None:
        """Create the table and its indexes if they are missing."""
        if self._ready:
            return
        try:
            self._create()
        except Exception:
            # Two daemons starting at once: PostgreSQL may refuse the second CREATE … IF NOT
            # EXISTS while the first is in flight. By now the table is there.
            time.sleep(0.2)
            self._create()
        self._ready = True

    def _create(self) -> None:
        with self.db.transaction() as cursor:
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {self.table} ("
                "reminder_id TEXT NOT NULL, channel TEXT NOT NULL, case_id TEXT NOT NULL, "
                "deadline_id TEXT NOT NULL, rule TEXT NOT NULL, stage TEXT NOT NULL, "
                "due_at TEXT NOT NULL, recipients TEXT NOT NULL, late_by_seconds BIGINT, "
                "status TEXT NOT NULL, attempts INTEGER NOT NULL, created_at TEXT NOT NULL, "
                "issued_at TEXT, next_attempt_at TEXT, delivered_at TEXT, last_error TEXT, "
                "PRIMARY KEY (reminder_id, channel))"
            )
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS bti_reminder_outbox_work "
                f"ON {self.table} (status, next_attempt_at)"
            )
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS bti_reminder_outbox_case ON {self.table} (case_id)"
            )
            # A tick asked the outbox, per undone deadline, which stages were issued; the
            # deadline projection says it now (next_reminder_at), and every row written
            # no longer pays for this index.
            cursor.execute(
                f"DROP INDEX IF EXISTS {self.db.table('bti_reminder_outbox_deadline')}"
            )

    # ---- the issuer's side -------------------------------------------------------------

    def known(self, reminder_ids: Iterable[UUID]) -> set[UUID]:
        """Those of `reminder_ids` the outbox has past `intended`: nothing left to issue."""
        self.setup()
        wanted = sorted({str(r) for r in reminder_ids})
        found: set[UUID] = set()
        with self.db.transaction() as cursor:
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start:start + _CHUNK]
                marks = ", ".join(["%s"] * len(chunk))
                cursor.execute(
                    f"SELECT DISTINCT reminder_id FROM {self.table} "
                    f"WHERE reminder_id IN ({marks}) AND status <> 'intended'",
                    chunk,
                )
                found |= {UUID(str(row[0])) for row in cursor.fetchall()}
        return found

    def intend(self, intents: Sequence[Intent], channels: Sequence[str], now: datetime) -> None:
        """Write the reminders' rows before their events are recorded (kept if already there)."""
        self._insert(intents, channels, "intended", now)

    def not_ours(self, intent: Intent, channels: Sequence[str], now: datetime) -> None:
        """Remember a reminder found in the case that this daemon did not issue (imported)."""
        self._insert([intent], channels, "not_ours", now)

    def _insert(
        self, intents: Sequence[Intent], channels: Sequence[str], status: Status, now: datetime
    ) -> None:
        if not intents:
            return
        self.setup()
        with self.db.transaction() as cursor:
            cursor.executemany(
                f"INSERT INTO {self.table} ({_COLUMNS}) VALUES "
                "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 0, %s, NULL, NULL, NULL, NULL) "
                "ON CONFLICT (reminder_id, channel) DO NOTHING",
                [
                    (str(intent.reminder_id), channel, str(intent.case_id), intent.deadline_id,
                     intent.rule, intent.stage, moment_text(intent.due_at),
                     orjson.dumps(list(intent.recipients)).decode(), intent.late_by_seconds,
                     status, moment_text(now))
                    for intent in intents
                    for channel in channels
                ],
            )

    def mark_issued(self, reminders: Sequence[UUID], issued_at: datetime) -> None:
        """The ReminderIssued events are in the ledger: their rows wait for delivery now."""
        if not reminders:
            return
        self.setup()
        with self.db.transaction() as cursor:
            cursor.executemany(
                f"UPDATE {self.table} SET status = 'pending', issued_at = %s, "
                "next_attempt_at = %s WHERE reminder_id = %s AND status = 'intended'",
                [(moment_text(issued_at), moment_text(issued_at), str(reminder))
                 for reminder in reminders],
            )

    # ---- the deliverer's side ----------------------------------------------------------

    def work(self, now: datetime, limit: int = 500) -> list[OutboxRow]:
        """Rows to look at now: waiting for delivery (or to be confirmed issued), oldest first."""
        self.setup()
        with self.db.transaction() as cursor:
            cursor.execute(
                f"SELECT {_COLUMNS} FROM {self.table} WHERE status IN ('intended', 'pending') "
                "AND (next_attempt_at IS NULL OR next_attempt_at <= %s) "
                "ORDER BY created_at, reminder_id, channel LIMIT %s",
                (moment_text(now), limit),
            )
            return [_row(values) for values in cursor.fetchall()]

    def update(self, row: OutboxRow, **changes: object) -> None:
        """Change some columns of one row (moments are written as the table keeps them)."""
        self.update_many([(row, changes)])

    def update_many(self, updates: Sequence[tuple[OutboxRow, dict[str, object]]]) -> None:
        """`update` for many rows in one transaction (a delivery batch's outcomes)."""
        if not updates:
            return
        self.setup()
        with self.db.transaction() as cursor:
            for row, changes in updates:
                names = sorted(changes)
                assignments = ", ".join(f"{name} = %s" for name in names)
                cursor.execute(
                    f"UPDATE {self.table} SET {assignments} "
                    "WHERE reminder_id = %s AND channel = %s",
                    (*(_value(changes[n]) for n in names), str(row.reminder_id), row.channel),
                )

    # ---- reading -----------------------------------------------------------------------

    def rows(
        self, case_id: UUID | None = None, undelivered: bool = False,
        only: tuple[str, list[object]] | None = None,
    ) -> list[OutboxRow]:
        """Issued reminders (not `intended` ones), by case and then as issued; one case's, or
        those not delivered; `only`: a condition on the rows' cases, and its params."""
        if not self.exists():
            return []
        where, params = ["status <> 'intended'", "status <> 'not_ours'"], list[object]()
        if case_id is not None:
            where.append("case_id = %s")
            params.append(str(case_id))
        if only is not None:
            where.append(only[0])
            params.extend(only[1])
        if undelivered:
            where.append(f"status IN ({', '.join(['%s'] * len(UNDELIVERED))})")
            params.extend(UNDELIVERED)
        with self.db.transaction() as cursor:
            cursor.execute(
                f"SELECT {_COLUMNS} FROM {self.table} WHERE {' AND '.join(where)} "
                "ORDER BY case_id, issued_at, due_at, deadline_id, "
                "CASE stage WHEN 'upcoming' THEN 0 WHEN 'due' THEN 1 ELSE 2 END, channel",
                params,
            )
            return [_row(values) for values in cursor.fetchall()]

    def exists(self) -> bool:
        """Whether the table is there (a ledger whose daemon never ran has none)."""
        if self._ready:
            return True
        with self.db.transaction() as cursor:
            return _table_exists(cursor, self.db, TABLE)


def _table_exists(cursor: Cursor, db: Database, name: str) -> bool:
    if db.dialect == "sqlite":
        cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = %s", (name,))
    else:
        cursor.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
            (db.schema or "public", name),
        )
    return cursor.fetchone() is not None
