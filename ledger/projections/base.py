"""What a projection is: a named read model whose rows for a case are rebuilt from that case."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from uuid import UUID

from ledger.case import Case
from ledger.encryption import Sealer
from ledger.policies.deadlines import Deadline, deadlines
from ledger.policies.rulebook import Rulebook
from ledger.projections.sql import Cursor


@dataclass
class CaseChange:
    """A case as it stands after the events a batch brought, with what projections share."""

    case: Case
    rulebook: Rulebook
    sealer: Sealer | None = None
    """Seals personal values for the rows (None: rows hold them in clear, as in a test)."""
    _deadlines: list[Deadline] | None = field(default=None, repr=False)

    @property
    def case_id(self) -> UUID:
        return self.case.id

    @property
    def as_of(self) -> datetime:
        """The moment the rows describe: when the case's newest event was recorded.

        Rows never depend on when the projection happened to run, so an incremental
        projection and a rebuild agree row for row; queries judge time (overdue, expired).
        """
        return max(e.recorded_at for e in self.case.events)

    def sealed(self, cursor: Cursor, purpose: str, value: str) -> str:
        """A personal value as a row may hold it: sealed with the case's key."""
        if self.sealer is None:
            return value
        return self.sealer.seal_text(self.case_id, purpose, value, self.as_of, cursor.raw)

    @property
    def deadlines(self) -> list[Deadline]:
        """The case's deadlines by the one pure function (computed once per change)."""
        if self._deadlines is None:
            self._deadlines = deadlines(self.case.events, self.rulebook, self.as_of)
        return self._deadlines


class Projection(Protocol):
    """A read model kept in tables of the ledger's own database."""

    name: str
    tables: tuple[str, ...]
    """The table names it owns (without prefix); a rebuild builds them anew beside these."""

    def create_tables(self, cursor: Cursor, table: dict[str, str]) -> None:
        """Create its tables (IF NOT EXISTS) under the names given, primary keys only."""

    def create_indexes(self, cursor: Cursor, table: dict[str, str]) -> None:
        """Create its secondary indexes on its live tables (IF NOT EXISTS)."""

    def refresh(self, cursor: Cursor, table: dict[str, str], change: CaseChange) -> None:
        """Replace the case's rows by what the case now says."""
