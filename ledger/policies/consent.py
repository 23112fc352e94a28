"""Consent (samtykke): which services a consent covers, at which moment (rule 4, 000, 002)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from uuid import UUID

from ledger.policies.calendar import end_of_day


@dataclass
class ConsentState:
    """One consent as it stands: given to named services, until a date, perhaps withdrawn."""

    consent_id: UUID
    given_by: str
    services: frozenset[str]
    purpose: str
    given_at: datetime
    valid_until: date | None
    withdrawn: dict[str, datetime] = field(default_factory=dict)
    """service → when the consent was withdrawn for it."""

    def covers(self, service: str, at: datetime) -> bool:
        """Whether this consent lets `service` take part in the case at moment `at`."""
        if service not in self.services or at < self.given_at:
            return False
        withdrawn_at = self.withdrawn.get(service)
        if withdrawn_at is not None and withdrawn_at <= at:
            return False
        return self.valid_until is None or at <= end_of_day(self.valid_until)

    def services_in_force(self, at: datetime) -> frozenset[str]:
        """The services this consent covers at moment `at`."""
        return frozenset(s for s in self.services if self.covers(s, at))

    @property
    def fully_withdrawn(self) -> bool:
        """Every service of the consent has been withdrawn."""
        return set(self.withdrawn) >= self.services


def covering_consent(
    consents: dict[UUID, ConsentState], service: str, at: datetime
) -> ConsentState | None:
    """The first consent that covers `service` at `at`, if any."""
    for consent in consents.values():
        if consent.covers(service, at):
            return consent
    return None
