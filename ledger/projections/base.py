"""What a projection is: a named read model whose rows for a case are rebuilt from that case."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol
from uuid import UUID

from ledger.case import Case
from ledger.encryption import Sealer
from ledger.policies.deadlines import Deadline, case_deadlines
from ledger.policies.rulebook import Rulebook
from ledger.projections.sql import Cursor

Rows = dict[str, list[tuple[Any, ...]]]
"""A case's rows by logical table name, each row in the order of the table's `columns`."""


@dataclass
class CaseChange:
    """A case as it stands after the events a batch brought, with what projections share."""

    case: Case
    rulebook: Rulebook
    sealer: Sealer | None = None
    """Seals personal values for the rows (None: rows hold them in clear, as in a test)."""
    _deadlines: list[Deadline] | None = field(default=None, repr=False)
    _as_of: datetime | None = field(default=None, repr=False)

    @property
    def case_id(self) -> UUID:
        return self.case.id

    @property
    def as_of(self) -> datetime:
        """The moment the rows describe: when the case's newest event was recorded.

        Rows never depend on when the projection happened to run, so an incremental
        projection and a rebuild agree row for row; queries judge time (overdue, expired).
        """
        if self._as_of is None:
            self._as_of = max(e.recorded_at for e in self.case.events)
        return self._as_of

    def sealed(self, cursor: Cursor, purpose: str, value: str) -> str:
        """A personal value as a row may hold it: sealed with the case's key."""
        if self.sealer is None:
            return value
        return self.sealer.seal_text(self.case_id, purpose, value, self.as_of, cursor.raw)

    @property
    def deadlines(self) -> list[Deadline]:
        """The case's deadlines by the one pure function (computed once per change)."""
        if self._deadlines is None:
            self._deadlines = case_deadlines(self.case, self.rulebook, self.as_of)
        return self._deadlines


class Projection(Protocol):
    """A read model kept in tables of the ledger's own database, keyed by case.

    It says what rows a case gives; the runner writes them, many cases at a time.
    """

    name: str
    tables: tuple[str, ...]
    """The table names it owns (without prefix); a rebuild builds them anew beside these."""
    columns: ClassVar[dict[str, tuple[str, ...]]]
    """Each table's columns as `rows` fills them, `case_id` first."""

    def create_tables(self, cursor: Cursor, table: dict[str, str]) -> None:
        """Create its tables (IF NOT EXISTS) under the names given, primary keys only."""

    def create_indexes(self, cursor: Cursor, table: dict[str, str]) -> None:
        """Create its secondary indexes on its live tables (IF NOT EXISTS)."""

    def rows(self, cursor: Cursor, change: CaseChange) -> Rows:
        """The case's rows in each of its tables, as the case now says (they replace the old)."""
