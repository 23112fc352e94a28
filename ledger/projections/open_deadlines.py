"""The deadline projection: every case's deadlines with due date, rule, unit, holder and state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from ledger.policies.deadlines import Deadline
from ledger.projections.base import CaseChange
from ledger.projections.case_summary import utc_text
from ledger.projections.sql import Cursor


class DeadlinesProjection:
    """One row per deadline, as the pure `deadlines` function gives it for the case."""

    name = "deadlines"
    tables: tuple[str, ...] = ("deadlines",)

    def create_tables(self, cursor: Cursor, table: dict[str, str]) -> None:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {table['deadlines']} ("
            "case_id TEXT NOT NULL, deadline_id TEXT NOT NULL, rule TEXT NOT NULL, "
            "unit TEXT NOT NULL, holder TEXT, leader TEXT, due_at TEXT NOT NULL, "
            "state TEXT NOT NULL, deadline TEXT NOT NULL, PRIMARY KEY (case_id, deadline_id))"
        )

    def create_indexes(self, cursor: Cursor, table: dict[str, str]) -> None:
        name = table["deadlines"]
        cursor.execute(f"CREATE INDEX IF NOT EXISTS bti_deadlines_due ON {name} (state, due_at)")
        cursor.execute(
            f"CREATE INDEX IF NOT EXISTS bti_deadlines_unit ON {name} (unit, state, due_at)"
        )
        cursor.execute(
            f"CREATE INDEX IF NOT EXISTS bti_deadlines_holder ON {name} (holder, state, due_at)"
        )

    def refresh(self, cursor: Cursor, table: dict[str, str], change: CaseChange) -> None:
        name = table["deadlines"]
        cursor.execute(f"DELETE FROM {name} WHERE case_id = %s", (str(change.case_id),))
        cursor.executemany(
            f"INSERT INTO {name} (case_id, deadline_id, rule, unit, holder, leader, due_at, "
            "state, deadline) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (str(d.case_id), d.deadline_id, d.rule, d.unit, d.holder, change.case.leader,
                 utc_text(d.due_at), d.state, d.model_dump_json())
                for d in change.deadlines
            ],
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


def query_deadlines(cursor: Cursor, table: str, query: DeadlineQuery, now: datetime) -> list[Deadline]:
    """The deadlines the query asks for, judged at `now`, soonest due first."""
    where = ["1 = 1"] if query.include_closed else ["state = %s"]
    params: list[object] = [] if query.include_closed else ["open"]
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
    return [judged_at(Deadline.model_validate_json(row[0]), now) for row in cursor.fetchall()]
