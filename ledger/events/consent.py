"""Events of consent (samtykke) and of other services joining or leaving the case."""

from __future__ import annotations

from datetime import date
from typing import Literal
from uuid import UUID

from pydantic import Field

from ledger.events.base import CaseEvent, Name, Party, Service, Text


class ConsentGiven(CaseEvent):
    """Guardians (or a youth old enough) consented to share with named services (000, 002)."""

    family = "consent"
    type: Literal["ConsentGiven"] = "ConsentGiven"
    consent_id: UUID
    given_by: Party
    services: tuple[Service, ...] = Field(min_length=1)
    purpose: Text
    information: Text = Field(description="Which information the consent covers.")
    valid_until: date | None = Field(default=None, description="Valid to the end of this day.")


class ConsentRefused(CaseEvent):
    """Consent was asked for and refused; a refusal is recorded too."""

    family = "consent"
    type: Literal["ConsentRefused"] = "ConsentRefused"
    refused_by: Party
    services: tuple[Service, ...] = Field(min_length=1)
    purpose: Text


class ConsentWithdrawn(CaseEvent):
    """A consent was withdrawn, wholly or for some of its services; access ends at once."""

    family = "consent"
    type: Literal["ConsentWithdrawn"] = "ConsentWithdrawn"
    consent_id: UUID
    withdrawn_by: Party
    services: tuple[Service, ...] | None = Field(
        default=None, description="The services withdrawn; none given means all of them."
    )


class ServiceInvolved(CaseEvent):
    """Another service joined the case, resting on a consent (001 N2 1; 002)."""

    family = "consent"
    type: Literal["ServiceInvolved"] = "ServiceInvolved"
    service: Service
    contact: Name
    consent_id: UUID | None = Field(
        default=None, description="The consent it rests on; found by the ledger if not given."
    )


class ServiceReleased(CaseEvent):
    """A service left the case."""

    family = "consent"
    type: Literal["ServiceReleased"] = "ServiceReleased"
    service: Service
    reason: Text
