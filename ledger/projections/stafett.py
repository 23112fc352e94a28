"""The stafett projection: who holds which case, and which handovers wait for whom."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from ledger.projections.base import CaseChange, Rows
from ledger.projections.case_summary import utc_text
from ledger.projections.sql import Cursor


class StafettRow(BaseModel):
    """One open case's baton: its holder, and the person a handover waits for, if any."""

    model_config = ConfigDict(frozen=True)
    case_id: UUID
    child_ref: str
    unit: str
    level: int
    holder: str | None
    holder_service: str | None
    pending_to: str | None
    pending_since: datetime | None


class StafettProjection:
    """One row per open case."""

    name = "stafett"
    tables: tuple[str, ...] = ("stafett",)
    columns: ClassVar[dict[str, tuple[str, ...]]] = {"stafett": (
        "case_id", "child_ref", "unit", "level", "holder", "holder_service", "pending_to",
        "pending_since",
    )}

    def create_tables(self, cursor: Cursor, table: dict[str, str]) -> None:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {table['stafett']} ("
            "case_id TEXT PRIMARY KEY, child_ref TEXT NOT NULL, unit TEXT NOT NULL, "
            "level INTEGER NOT NULL, holder TEXT, holder_service TEXT, pending_to TEXT, "
            "pending_since TEXT)"
        )

    def create_indexes(self, cursor: Cursor, table: dict[str, str]) -> None:
        name = table["stafett"]
        cursor.execute(f"CREATE INDEX IF NOT EXISTS bti_stafett_holder ON {name} (holder)")
        cursor.execute(f"CREATE INDEX IF NOT EXISTS bti_stafett_pending ON {name} (pending_to)")

    def rows(self, cursor: Cursor, change: CaseChange) -> Rows:
        case = change.case
        if case.status != "open":
            return {"stafett": []}  # a closed case has no baton to hold
        pending = case.pending_handover
        return {"stafett": [(
            str(case.id), change.sealed(cursor, "stafett.child_ref", case.child_ref), case.unit,
            case.level, case.holder, case.holder_service,
            pending.to_person if pending else None,
            utc_text(pending.proposed_at) if pending else None,
        )]}


def query_stafett(
    cursor: Cursor, table: str, person: str | None, only: tuple[str, list[object]] | None = None
) -> list[StafettRow]:
    """Open cases held by `person` or waiting for them (all open cases if no person).

    `only`: an SQL condition on `case_id` and its params (the cases a reader may read).
    """
    columns = "case_id, child_ref, unit, level, holder, holder_service, pending_to, pending_since"
    where, params = ["1 = 1"], list[object]()
    if only is not None:
        where.append(only[0])
        params.extend(only[1])
    if person is None:
        cursor.execute(
            f"SELECT {columns} FROM {table} WHERE {' AND '.join(where)} "
            "ORDER BY holder, unit, case_id",
            params,
        )
    else:
        cursor.execute(
            f"SELECT {columns} FROM {table} WHERE {' AND '.join(where)} "
            "AND (holder = %s OR pending_to = %s) ORDER BY unit, case_id",
            [*params, person, person],
        )
    keys = columns.split(", ")
    return [StafettRow.model_validate(dict(zip(keys, row, strict=True))) for row in cursor.fetchall()]
