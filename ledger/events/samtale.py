"""Events of talking: the samtale with guardians and child, meetings, anonymous consultation."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import AwareDatetime, Field

from ledger.events.base import CaseEvent, Name, Party, Service, Text

MeetingKind = Literal[
    "stafettmote", "ressursteam", "tverrfaglig_drofting", "samarbeidsgruppe", "slt",
    "samba", "tbu", "ansvarsgruppe", "ip_gruppe", "instansmote",
]


class SamtaleInvited(CaseEvent):
    """The innkalling to den nødvendige samtalen was sent (000 N0 T3)."""

    family = "samtale"
    type: Literal["SamtaleInvited"] = "SamtaleInvited"
    with_whom: tuple[Party, ...] = Field(min_length=1)
    planned_at: AwareDatetime


class SamtaleHeld(CaseEvent):
    """Den nødvendige samtalen was held; the child has the right, not the duty, to give its view."""

    family = "samtale"
    type: Literal["SamtaleHeld"] = "SamtaleHeld"
    participants: tuple[Party, ...] = Field(min_length=1)
    child_view: Text | None = None
    summary: Text


class ChildConversationHeld(CaseEvent):
    """A trusted adult talked with the child about what happens next (001 N3 3)."""

    family = "samtale"
    type: Literal["ChildConversationHeld"] = "ChildConversationHeld"
    trusted_adult: Name
    summary: Text


class MeetingHeld(CaseEvent):
    """A meeting where several services met about the case (000–003)."""

    family = "samtale"
    type: Literal["MeetingHeld"] = "MeetingHeld"
    kind: MeetingKind
    participants: tuple[Name, ...] = Field(min_length=1)
    coordinator: Name | None = Field(default=None, description="The ansvarsgruppe's koordinator.")
    plans_tiltak: bool = False
    next_meeting_on: date | None = None
    summary: Text


class AnonymousConsultationHeld(CaseEvent):
    """An NN-drøfting with another service without naming the child: needs no consent."""

    family = "samtale"
    type: Literal["AnonymousConsultationHeld"] = "AnonymousConsultationHeld"
    with_service: Service
    guardians_told: bool
    summary: Text
