"""The case summary: what a user sees of a case at a glance, derived from the aggregate."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from ledger.case import Case


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


def summarise(case: Case, at: datetime) -> CaseSummary:
    """The summary of `case` as it stands at moment `at` (consents expire with time)."""
    return CaseSummary(
        case_id=case.id,
        child_ref=case.child_ref,
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
                description=t.description,
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
