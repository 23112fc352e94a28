"""Read models in the ledger's own tables, each following the event log exactly once."""

from __future__ import annotations

from ledger.projections.base import CaseChange, Projection
from ledger.projections.case_access import AccessProjection
from ledger.projections.case_summary import CaseSummaryProjection
from ledger.projections.open_deadlines import DeadlinesProjection
from ledger.projections.stafett import StafettProjection


def all_projections() -> list[Projection]:
    """Every projection the ledger keeps, in the order they are applied."""
    return [
        CaseSummaryProjection(), DeadlinesProjection(), StafettProjection(), AccessProjection(),
    ]


__all__ = ["CaseChange", "Projection", "all_projections"]
