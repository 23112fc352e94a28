"""Events of the stafett: who holds the baton, and handing it over (001 N1 2; 003)."""

from __future__ import annotations

from typing import Literal

from ledger.events.base import CaseEvent, Name, Service, Text


class StafettholderAssigned(CaseEvent):
    """A person was made stafettholder of the case."""

    family = "stafett"
    type: Literal["StafettholderAssigned"] = "StafettholderAssigned"
    person: Name
    service: Service


class StafettHandoverProposed(CaseEvent):
    """The holder or the leader proposed handing the stafett to another person (rule 9)."""

    family = "stafett"
    type: Literal["StafettHandoverProposed"] = "StafettHandoverProposed"
    to_person: Name
    to_service: Service


class StafettHandoverAccepted(CaseEvent):
    """The proposed person accepted the stafett; from now on they hold it."""

    family = "stafett"
    type: Literal["StafettHandoverAccepted"] = "StafettHandoverAccepted"


class StafettHandoverDeclined(CaseEvent):
    """The proposed person declined; the old holder keeps the stafett."""

    family = "stafett"
    type: Literal["StafettHandoverDeclined"] = "StafettHandoverDeclined"
    reason: Text
