"""The deadline projection: every case's deadlines with due date, rule, unit, holder and state.

Each row also says when the deadline's next reminder falls (`next_reminder_at`): the earliest
of the rulebook's reminder stages (`reminder_due`) that has no ReminderIssued in the case yet,
or NULL when none is owed (every stage issued, the deadline met or cancelled, the case not
open). The reminder daemon asks for the rows whose next reminder has fallen, an index range,
instead of looking at every deadline still undone: a missed deadline stays undone for as long
as its case is open, and there are more of them every day. Rows follow the case's events, so
an issued reminder moves the row on when the projection catches up, and a rebuild gives the
same column.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar
from uuid import UUID

from ledger.events import ReminderIssued
from ledger.policies.deadlines import Deadline, reminder_due
from ledger.policies.rulebook import Rulebook
from ledger.projections.base import CaseChange, Rows
from ledger.projections.case_summary import utc_text
from ledger.projections.sql import Cursor


class DeadlinesProjection:
    """One row per deadline, as the pure `deadlines` function gives it for the case."""

    name = "deadlines"
    tables: tuple[str, ...] = ("deadlines",)
    columns: ClassVar[dict[str, tuple[str, ...]]] = {"deadlines": (
        "case_id", "deadline_id", "rule", "unit", "holder", "leader", "due_at", "state",
        "deadline", "next_reminder_at",
    )}

    def create_tables(self, cursor: Cursor, table: dict[str, str]) -> None:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {table['deadlines']} ("
            "case_id TEXT NOT NULL, deadline_id TEXT NOT NULL, rule TEXT NOT NULL, "
            "unit TEXT NOT NULL, holder TEXT, leader TEXT, due_at TEXT NOT NULL, "
            "state TEXT NOT NULL, deadline TEXT NOT NULL, next_reminder_at TEXT, "
            "PRIMARY KEY (case_id, deadline_id))"
        )
        _add_next_reminder_column(cursor, table["deadlines"])

    def create_indexes(self, cursor: Cursor, table: dict[str, str]) -> None:
        name = table["deadlines"]
        cursor.execute(f"CREATE INDEX IF NOT EXISTS bti_deadlines_due ON {name} (state, due_at)")
        cursor.execute(
            f"CREATE INDEX IF NOT EXISTS bti_deadlines_unit ON {name} (unit, state, due_at)"
        )
        cursor.execute(
            f"CREATE INDEX IF NOT EXISTS bti_deadlines_holder ON {name} (holder, state, due_at)"
        )
        # Partial: most rows owe no reminder, and the daemon's `<=` implies NOT NULL.
        cursor.execute(
            f"CREATE INDEX IF NOT EXISTS bti_deadlines_next_reminder ON {name} "
            "(next_reminder_at) WHERE next_reminder_at IS NOT NULL"
        )

    def rows(self, cursor: Cursor, change: CaseChange) -> Rows:
        case = change.case
        reminded: set[tuple[str, str]] = {
            (e.deadline_id, e.stage) for e in case.events if isinstance(e, ReminderIssued)
        }
        return {"deadlines": [
            (str(d.case_id), d.deadline_id, d.rule, d.unit, d.holder, case.leader,
             utc_text(d.due_at), d.state, d.model_dump_json(),
             utc_text(next_reminder(d, reminded, change.rulebook)) if case.status == "open"
             else None)
            for d in change.deadlines
        ]}


NOT_YET_KNOWN = ""
"""`next_reminder_at` of a row written before the column existed: it sorts before every
moment, so the daemon reads such a row at every round (as it read every undone deadline
before) until `bti rebuild deadlines` fills the column."""


def next_reminder(
    deadline: Deadline, reminded: set[tuple[str, str]], rulebook: Rulebook
) -> datetime | None:
    """When the earliest stage not yet in `reminded` (deadline id, stage) falls; None when the
    deadline is done (met, cancelled, done late) or every stage is reminded."""
    if not deadline.not_done:
        return None
    falls = [
        reminder_due(deadline, stage, rulebook)
        for stage in rulebook.reminder_stages
        if (deadline.deadline_id, stage.name) not in reminded
    ]
    # As instants: two Oslo moments with the same tzinfo would compare on the wall clock.
    return min(falls, key=lambda moment: moment.astimezone(UTC)) if falls else None


def _add_next_reminder_column(cursor: Cursor, table: str) -> None:
    """Give a table made before `next_reminder_at` existed the column, its rows NOT_YET_KNOWN."""
    # Looked up first: an ALTER, even one with nothing to do, would lock the table.
    if cursor.dialect == "postgres":
        cursor.execute(
            "SELECT 1 FROM pg_attribute WHERE attrelid = %s::regclass "
            "AND attname = 'next_reminder_at' AND NOT attisdropped", (table,)
        )
        if cursor.fetchone() is None:
            cursor.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS next_reminder_at "
                           f"TEXT DEFAULT '{NOT_YET_KNOWN}'")
        return
    cursor.execute(f"PRAGMA table_info({table})")
    if "next_reminder_at" not in {row[1] for row in cursor.fetchall()}:
        cursor.execute(
            f"ALTER TABLE {table} ADD COLUMN next_reminder_at TEXT DEFAULT '{NOT_YET_KNOWN}'"
        )


@dataclass(frozen=True)
class DeadlineQuery:
    """Which deadlines to list: by due window, unit, holder, case, state."""

    due_before: datetime | None = None
    unit: str | None = None
    holder: str | None = None
    case_id: UUID | None = None
    overdue: bool = False
    include_closed: bool = False
    """Also met and cancelled deadlines (for a case's full list); default: only open/overdue."""


def judged_at(deadline: Deadline, now: datetime) -> Deadline:
    """A stored deadline judged at `now`: an open one past its due time is missed."""
    if deadline.state == "open" and now > deadline.due_at:
        return deadline.model_copy(update={"state": "missed"})
    return deadline


def query_deadlines(
    cursor: Cursor,
    table: str,
    query: DeadlineQuery,
    now: datetime,
    only: tuple[str, list[object]] | None = None,
) -> list[Deadline]:
    """The deadlines the query asks for, judged at `now`, soonest due first.

    `only`: an SQL condition on `case_id` and its params (the cases a reader may read).
    """
    # Not done yet: open, or missed and not done since (a case registered late stores its
    # first deadlines as already missed; they still wait to be done).
    where = ["1 = 1"] if query.include_closed else ["state IN (%s, %s)"]
    params: list[object] = [] if query.include_closed else ["open", "missed"]
    if only is not None:
        where.append(only[0])
        params.extend(only[1])
    if query.overdue:
        where.append("due_at < %s")
        params.append(utc_text(now))
    if query.due_before is not None:
        where.append("due_at <= %s")
        params.append(utc_text(query.due_before))
    for column, value in (("unit", query.unit), ("holder", query.holder),
                          ("case_id", str(query.case_id) if query.case_id else None)):
        if value is not None:
            where.append(f"{column} = %s")
            params.append(value)
    cursor.execute(
        f"SELECT deadline FROM {table} WHERE {' AND '.join(where)} ORDER BY due_at, deadline_id",
        params,
    )
    found = [judged_at(Deadline.model_validate_json(row[0]), now) for row in cursor.fetchall()]
    return found if query.include_closed else [d for d in found if d.met_by is None]
