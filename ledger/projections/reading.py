"""Reading the projections: cases by unit and status, deadlines by window, stafett by person."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from ledger.events import Actor
from ledger.policies.access import Grant
from ledger.policies.deadlines import Deadline
from ledger.projections import all_projections
from ledger.projections.case_access import query_access, readable_cases
from ledger.projections.case_summary import CaseSummary, opened_summary, summary_as_of
from ledger.projections.open_deadlines import DeadlineQuery, query_deadlines
from ledger.projections.runner import ProjectionRunner
from ledger.projections.sql import Database
from ledger.projections.stafett import StafettRow, query_stafett


class ReadModels:
    """The projections of one ledger, kept up to date and queried."""

    def __init__(self, database: Database) -> None:
        self.db = database
        self.runner = ProjectionRunner(database, all_projections())

    def catch_up(self) -> int:
        """Bring every projection up to the head of the log."""
        return self.runner.catch_up()

    def summary(self, case_id: UUID, now: datetime) -> CaseSummary | None:
        """One case's summary as it stands at `now`, or None if there is no such case."""
        with self.db.transaction() as cursor:
            cursor.execute(
                f"SELECT summary FROM {self.db.table('bti_case_summary')} WHERE case_id = %s",
                (str(case_id),),
            )
            row = cursor.fetchone()
        if not row:
            return None
        return summary_as_of(self._opened(CaseSummary.model_validate_json(row[0])), now)

    def readable(
        self, reader: Actor | None, now: datetime, outer: str
    ) -> tuple[str, list[object]] | None:
        """The SQL condition on `outer`'s rows for the cases `reader` may read at `now`
        (None: no filter)."""
        if reader is None:
            return None
        return readable_cases(self.db.table("bti_access"), reader, now, outer)

    def cases(
        self,
        now: datetime,
        unit: str | None = None,
        status: str | None = None,
        reader: Actor | None = None,
    ) -> list[CaseSummary]:
        """Every case's summary (that `reader` may read), by unit and status, newest first."""
        where, params = ["1 = 1"], list[object]()
        only = self.readable(reader, now, self.db.table("bti_case_summary"))
        if only is not None:
            where.append(only[0])
            params.extend(only[1])
        if unit is not None:
            where.append("unit = %s")
            params.append(unit)
        if status is not None:
            where.append("status = %s")
            params.append(status)
        with self.db.transaction() as cursor:
            cursor.execute(
                f"SELECT summary FROM {self.db.table('bti_case_summary')} "
                f"WHERE {' AND '.join(where)} ORDER BY last_activity DESC, case_id",
                params,
            )
            rows = cursor.fetchall()
        summaries = [CaseSummary.model_validate_json(r[0]) for r in rows]
        self.db.store.case_keys.load([s.case_id for s in summaries])
        return [summary_as_of(self._opened(s), now) for s in summaries]

    def _opened(self, summary: CaseSummary) -> CaseSummary:
        return opened_summary(summary, self.db.store.sealer)

    def deadlines(
        self, query: DeadlineQuery, now: datetime, reader: Actor | None = None
    ) -> list[Deadline]:
        """The deadlines the query asks for (of cases `reader` may read), judged at `now`."""
        only = self.readable(reader, now, self.db.table("bti_deadlines"))
        with self.db.transaction() as cursor:
            return query_deadlines(cursor, self.db.table("bti_deadlines"), query, now, only)

    def access(self, case_id: UUID, now: datetime) -> list[Grant]:
        """Who may read or write the case at `now`, and on what basis."""
        with self.db.transaction() as cursor:
            return query_access(cursor, self.db.table("bti_access"), case_id, now)

    def stafett(
        self, person: str | None = None, reader: Actor | None = None, now: datetime | None = None
    ) -> list[StafettRow]:
        """Open cases held by `person` or waiting for them to accept (all if no person),
        of those `reader` may read at `now`."""
        if reader is not None and now is None:
            raise ValueError("a reader's stafett is judged at a moment: give `now`")
        only = (
            self.readable(reader, now, self.db.table("bti_stafett")) if now is not None else None
        )
        with self.db.transaction() as cursor:
            rows = query_stafett(cursor, self.db.table("bti_stafett"), person, only)
        sealer = self.db.store.sealer
        return [
            row.model_copy(update={
                "child_ref": sealer.open_text(row.case_id, "stafett.child_ref", row.child_ref)
            })
            for row in rows
        ]
