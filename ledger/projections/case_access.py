"""The access projection: which services and persons may read or write each case, and why."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from ledger.events import Actor
from ledger.policies.access import OFFICE_ROLES, Grant, grants
from ledger.projections.base import CaseChange, Rows
from ledger.projections.case_summary import utc_text
from ledger.projections.sql import Cursor

_COLUMNS = (
    "principal_kind, principal, may_read, may_write, basis, consent_id, until, unit, service, "
    "writes"
)


class AccessProjection:
    """One row per grant a case gives, as the access policy says at the case's newest event."""

    name = "access"
    tables: tuple[str, ...] = ("access",)
    columns: ClassVar[dict[str, tuple[str, ...]]] = {
        "access": ("case_id", "seq", *_COLUMNS.replace(" ", "").split(",")),
    }

    def create_tables(self, cursor: Cursor, table: dict[str, str]) -> None:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {table['access']} ("
            "case_id TEXT NOT NULL, seq INTEGER NOT NULL, principal_kind TEXT NOT NULL, "
            "principal TEXT NOT NULL, may_read INTEGER NOT NULL, may_write INTEGER NOT NULL, "
            "basis TEXT NOT NULL, consent_id TEXT, until TEXT, unit TEXT, service TEXT, "
            "writes TEXT, PRIMARY KEY (case_id, seq))"
        )

    def create_indexes(self, cursor: Cursor, table: dict[str, str]) -> None:
        # None by principal on purpose: readers are checked per case (`readable_cases`), by
        # the key; an index by principal tempts the planner to read every grant of a role or
        # service for each row instead (tilsyn's whole-municipality list took minutes).
        return

    def rows(self, cursor: Cursor, change: CaseChange) -> Rows:
        case_id = str(change.case_id)
        return {"access": [
            (case_id, seq, g.principal_kind, g.principal, int(g.may_read), int(g.may_write),
             g.basis, str(g.consent_id) if g.consent_id else None, utc_text(g.until), g.unit,
             g.service, ",".join(g.writes) if g.writes else None)
            for seq, g in enumerate(grants(change.case, change.as_of))
        ]}


def query_access(cursor: Cursor, table: str, case_id: UUID, now: datetime) -> list[Grant]:
    """The grants of a case still in force at `now` (consents that ran out drop away)."""
    cursor.execute(
        f"SELECT {_COLUMNS} FROM {table} WHERE case_id = %s "
        "AND (until IS NULL OR until >= %s) ORDER BY seq",
        (str(case_id), utc_text(now)),
    )
    return [
        Grant(
            principal_kind=kind, principal=principal, may_read=bool(read), may_write=bool(write),
            basis=basis, consent_id=UUID(consent) if consent else None,
            until=datetime.fromisoformat(until) if until else None, unit=unit, service=service,
            writes=tuple(writes.split(",")) if writes else None,
        )
        for kind, principal, read, write, basis, consent, until, unit, service, writes
        in cursor.fetchall()
    ]


def readable_cases(
    table: str, reader: Actor, now: datetime, outer: str
) -> tuple[str, list[object]]:
    """An `EXISTS` condition on the rows of `outer` (a table with a `case_id` column): the
    cases `reader` may read at `now`, and its params.

    The same matching as `Grant.applies_to`, in SQL over the access table: a role grant by
    role; a service grant by service (and unit, if the grant names one); a person grant by
    name (and service, if the grant names one). An office role matches role grants only.
    Asked per row of `outer` by the access table's key: a query for one case or one unit
    reads those cases' grants, not every case the reader may read.
    """
    match = ["(a.principal_kind = 'role' AND a.principal = %s)"]
    params: list[object] = [reader.role]
    if reader.role not in OFFICE_ROLES:
        match += [
            "(a.principal_kind = 'service' AND a.principal = %s "
            "AND (a.unit IS NULL OR a.unit = %s))",
            "(a.principal_kind = 'person' AND a.principal = %s "
            "AND (a.service IS NULL OR a.service = %s))",
        ]
        params += [reader.service, reader.unit, reader.person, reader.service]
    condition = (
        f"EXISTS (SELECT 1 FROM {table} a WHERE a.case_id = {outer}.case_id "
        f"AND a.may_read = 1 AND (a.until IS NULL OR a.until >= %s) AND ({' OR '.join(match)}))"
    )
    return condition, [utc_text(now), *params]
