"""The case summary: what a user sees of a case at a glance, derived from the aggregate."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from ledger.case import Case
from ledger.encryption import Sealer
from ledger.policies.calendar import end_of_day
from ledger.projections.base import CaseChange, Rows
from ledger.projections.sql import Cursor

Seal = Callable[[str, str], str]
"""Seals a personal value for a row: (purpose, value) to the text the row holds."""


class ConsentInForce(BaseModel):
    """A consent and the services it covers now."""

    model_config = ConfigDict(frozen=True)
    consent_id: UUID
    given_by: str
    services: tuple[str, ...]
    valid_until: date | None


class OpenTiltak(BaseModel):
    """A tiltak that is planned or running."""

    model_config = ConfigDict(frozen=True)
    tiltak_id: UUID
    description: str
    status: str
    responsible: str | None
    evaluate_by: date | None


class CaseSummary(BaseModel):
    """One row of the case summary."""

    model_config = ConfigDict(frozen=True)
    case_id: UUID
    child_ref: str
    unit: str
    service: str
    status: str
    level: int
    tracks: tuple[str, ...]
    violence_suspected: bool
    holder: str | None
    holder_service: str | None
    pending_handover_to: str | None
    services_involved: tuple[str, ...]
    services_relying_on_lost_consent: tuple[str, ...]
    consents_in_force: tuple[ConsentInForce, ...]
    open_tiltak: tuple[OpenTiltak, ...]
    noticed_at: datetime | None
    last_activity: datetime | None
    events: int


def summarise(case: Case, at: datetime, seal: Seal | None = None) -> CaseSummary:
    """The summary of `case` as it stands at moment `at` (consents expire with time).

    `seal`: applied to each personal value (purpose, value), for a row (see `sealed_summary`).
    """
    def personal(purpose: str, value: str) -> str:
        return value if seal is None else seal(purpose, value)

    return CaseSummary(
        case_id=case.id,
        child_ref=personal("summary.child_ref", case.child_ref),
        unit=case.unit,
        service=case.service,
        status=case.status,
        level=case.level,
        tracks=tuple(sorted(case.tracks)),
        violence_suspected=case.violence_suspected,
        holder=case.holder,
        holder_service=case.holder_service,
        pending_handover_to=case.pending_handover.to_person if case.pending_handover else None,
        services_involved=tuple(sorted(case.services_involved)),
        services_relying_on_lost_consent=tuple(sorted(case.services_relying_on_lost_consent(at))),
        consents_in_force=tuple(
            ConsentInForce(
                consent_id=c.consent_id,
                given_by=c.given_by,
                services=tuple(sorted(c.services_in_force(at))),
                valid_until=c.valid_until,
            )
            for c in case.consents.values()
            if c.services_in_force(at)
        ),
        open_tiltak=tuple(
            OpenTiltak(
                tiltak_id=t.tiltak_id,
                description=personal(f"summary.tiltak.{t.tiltak_id}", t.description),
                status=t.status,
                responsible=t.responsible,
                evaluate_by=t.evaluate_by,
            )
            for t in case.tiltak.values()
            if t.status in ("planned", "started")
        ),
        noticed_at=case.noticed_at,
        last_activity=case.last_activity,
        events=case.version,
    )


def summary_as_of(summary: CaseSummary, now: datetime) -> CaseSummary:
    """A stored summary judged at `now`: consents that have expired since no longer count."""
    in_force = tuple(
        c for c in summary.consents_in_force
        if c.valid_until is None or now <= end_of_day(c.valid_until)
    )
    if len(in_force) == len(summary.consents_in_force):
        return summary
    covered = {s for c in in_force for s in c.services}
    lost = set(summary.services_relying_on_lost_consent) | {
        s for s in summary.services_involved if s != summary.service and s not in covered
    }
    return summary.model_copy(update={
        "consents_in_force": in_force,
        "services_relying_on_lost_consent": tuple(sorted(lost)),
    })


class CaseSummaryProjection:
    """One row per case: status, level, unit, holder, and the whole summary as JSON."""

    name = "case_summary"
    tables: tuple[str, ...] = ("case_summary",)
    columns: ClassVar[dict[str, tuple[str, ...]]] = {"case_summary": (
        "case_id", "unit", "status", "level", "holder", "last_activity", "summary",
    )}

    def create_tables(self, cursor: Cursor, table: dict[str, str]) -> None:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {table['case_summary']} ("
            "case_id TEXT PRIMARY KEY, unit TEXT NOT NULL, status TEXT NOT NULL, "
            "level INTEGER NOT NULL, holder TEXT, last_activity TEXT, summary TEXT NOT NULL)"
        )

    def create_indexes(self, cursor: Cursor, table: dict[str, str]) -> None:
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS bti_case_summary_unit "
            f"ON {table['case_summary']} (unit, status)"
        )

    def rows(self, cursor: Cursor, change: CaseChange) -> Rows:
        summary = sealed_summary(change, cursor)
        return {"case_summary": [(
            str(summary.case_id), summary.unit, summary.status, summary.level, summary.holder,
            utc_text(summary.last_activity), summary.model_dump_json(),
        )]}


def sealed_summary(change: CaseChange, cursor: Cursor) -> CaseSummary:
    """The summary as its row holds it: the child's reference and tiltak texts sealed."""
    return summarise(
        change.case, change.as_of, lambda purpose, value: change.sealed(cursor, purpose, value)
    )


def opened_summary(summary: CaseSummary, sealer: Sealer) -> CaseSummary:
    """A row's summary with its sealed values opened ("[slettet]" once the case is erased)."""
    case_id = summary.case_id
    return summary.model_copy(update={
        "child_ref": sealer.open_text(case_id, "summary.child_ref", summary.child_ref),
        "open_tiltak": tuple(
            t.model_copy(update={"description": sealer.open_text(
                case_id, f"summary.tiltak.{t.tiltak_id}", t.description
            )})
            for t in summary.open_tiltak
        ),
    })


def utc_text(moment: datetime | None) -> str | None:
    """A sortable text for a moment: ISO 8601 in UTC with microseconds."""
    if moment is None:
        return None
    # isoformat, not strftime: the same text, several times faster (a rebuild writes many).
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
