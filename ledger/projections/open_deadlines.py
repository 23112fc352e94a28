"""The deadline projection: every case's deadlines with due date, rule, unit, holder and state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar
from uuid import UUID

from ledger.policies.deadlines import Deadline
from ledger.projections.base import CaseChange, Rows
from ledger.projections.case_summary import utc_text
from ledger.projections.sql import Cursor


class DeadlinesProjection:
    """One row per deadline, as the pure `deadlines` function gives it for the case."""

    name = "deadlines"
    tables: tuple[str, ...] = ("deadlines",)
    columns: ClassVar[dict[str, tuple[str, ...]]] = {"deadlines": (
        "case_id", "deadline_id", "rule", "unit", "holder", "leader", "due_at", "state",
        "deadline",
    )}

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

    def rows(self, cursor: Cursor, change: CaseChange) -> Rows:
        leader = change.case.leader
        return {"deadlines": [
            (str(d.case_id), d.deadline_id, d.rule, d.unit, d.holder, leader, utc_text(d.due_at),
             d.state, d.model_dump_json())
            for d in change.deadlines
        ]}


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
