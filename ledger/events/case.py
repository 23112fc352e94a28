"""Events of the case's life: the undring, flags, reports, decisions, levels, closing, audit."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal
from uuid import UUID

from pydantic import (
    AwareDatetime,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ledger.events.base import CaseEvent, Flag, Name, Service, Text, Track


class UndringRegistered(CaseEvent):
    """An employee registered what they noticed and wonder about; the case begins (000 N0 T1)."""

    family = "case"
    type: Literal["UndringRegistered"] = "UndringRegistered"
    child_ref: Name = Field(description="The child's pseudonymous reference in the unit.")
    child_birth_date: date = Field(description="For the self-consent age (rule 5).")
    unit: Name
    service: Service = Field(description="The case's own service, e.g. skole or barnehage.")
    noticed_at: AwareDatetime = Field(description="When it was noticed; starts the clocks.")
    observations: Text = Field(description="The undringsnotat: concrete observations.")
    national_id: str | None = Field(
        default=None,
        description="The child's fødselsnummer or D-nummer, if given: checked by its mod-11 "
        "digits, stored only encrypted, found again by a keyed hash (docs/privacy.md).",
    )
    tracks: tuple[Track, ...] = ()
    violence_suspected: bool = False

    @model_serializer(mode="wrap")
    def _without_absent_national_id(self, handler: SerializerFunctionWrapHandler) -> Any:
        # Optional and new: left out when not given, so the public shape of every undring
        # recorded without one stays what it was.
        data = handler(self)
        if isinstance(data, dict) and data.get("national_id") is None:
            data.pop("national_id", None)
        return data


class SharedWithLeader(CaseEvent):
    """The undring was shared with the nearest leader "ved første anledning" (000 N0 T2)."""

    family = "case"
    type: Literal["SharedWithLeader"] = "SharedWithLeader"
    leader: Name
    how: Name = Field(description="How it was shared: in person, by phone, in writing …")


class TrackFlagged(CaseEvent):
    """A § 12 / § 42 track or a violence suspicion was set after registration (000 N0 T1)."""

    family = "case"
    type: Literal["TrackFlagged"] = "TrackFlagged"
    flag: Flag
    reason: Text


class FlagCleared(CaseEvent):
    """A track or the violence suspicion was lifted, with why (e.g. barnevern concluded)."""

    family = "case"
    type: Literal["FlagCleared"] = "FlagCleared"
    flag: Flag
    reason: Text


class InvestigationRecorded(CaseEvent):
    """The school or barnehage looked into the matter "snarest" (§ 12-4, § 42) and found this."""

    family = "case"
    type: Literal["InvestigationRecorded"] = "InvestigationRecorded"
    looked_into: Text
    findings: Text


class SchoolOwnerNotified(CaseEvent):
    """The rektor told the municipality of a serious § 12 case (000 § 12-4)."""

    family = "case"
    type: Literal["SchoolOwnerNotified"] = "SchoolOwnerNotified"
    notified: Name = Field(description="Who at the school owner was told.")
    summary: Text


class ReportedToBarnevern(CaseEvent):
    """A report (bekymringsmelding) went to barnevern or the police; never needs consent (004)."""

    family = "case"
    type: Literal["ReportedToBarnevern"] = "ReportedToBarnevern"
    to: Literal["barnevern", "police", "both"]
    reference: Name | None = None


class BrightSpotLogged(CaseEvent):
    """A lysglimt: a positive observation worth logging."""

    family = "case"
    type: Literal["BrightSpotLogged"] = "BrightSpotLogged"
    observation: Text


DecisionOutcome = Literal[
    "close", "continue", "change_tiltak", "level_up", "level_down", "new_round"
]


class DecisionRecorded(CaseEvent):
    """A decision on the case, with the child's view weighed (000 N0 T4; 001 N1 5; 004)."""

    family = "case"
    type: Literal["DecisionRecorded"] = "DecisionRecorded"
    outcome: DecisionOutcome
    to_level: int | None = Field(default=None, ge=0, le=3)
    decided_by: Name
    child_view_weighed: Text = Field(description="How the child's view was weighed.")
    reason: Text

    @model_validator(mode="after")
    def _level_named_when_moving(self) -> DecisionRecorded:
        moving = self.outcome in ("level_up", "level_down")
        if moving and self.to_level is None:
            raise PydanticCustomError(
                "to_level_required", "to_level is required when the decision moves the level"
            )
        if not moving and self.to_level is not None:
            raise PydanticCustomError(
                "to_level_not_moving", "to_level is only given when the decision moves the level"
            )
        return self


class LevelChanged(CaseEvent):
    """The case moved from one level (nivå 0–3) to another, following a decision."""

    family = "case"
    type: Literal["LevelChanged"] = "LevelChanged"
    from_level: int = Field(ge=0, le=3)
    to_level: int = Field(ge=0, le=3)
    reason: Text


class CaseClosed(CaseEvent):
    """The case ended, with an avslutningsnotat (001 N0 5; 002)."""

    family = "case"
    type: Literal["CaseClosed"] = "CaseClosed"
    reason: Text
    closing_note: Text


class CaseReopened(CaseEvent):
    """A closed case was opened again; the nivå-0 decision clock starts again."""

    family = "case"
    type: Literal["CaseReopened"] = "CaseReopened"
    reason: Text


class EntryCorrected(CaseEvent):
    """A mistake in an earlier event is corrected; the original stays in the history (rule 10)."""

    family = "case"
    type: Literal["EntryCorrected"] = "EntryCorrected"
    corrects: UUID = Field(description="The event_id of the event being corrected.")
    fields: dict[str, Any] = Field(min_length=1, description="Corrected field values.")
    why: Text


class DeviationRecorded(CaseEvent):
    """A leader records that a duty was not followed, so tilsyn sees it (avvik)."""

    family = "case"
    type: Literal["DeviationRecorded"] = "DeviationRecorded"
    rule: Name = Field(description="Which rule or duty was not followed.")
    what_happened: Text
    why: Text
    about_event: UUID | None = None


class CaseErased(CaseEvent):
    """A closed case's personal data was erased after its retention period: its key destroyed."""

    family = "case"
    type: Literal["CaseErased"] = "CaseErased"
    reason: Text = Field(description="Why it was erased (e.g. the retention period ended).")
    closed_at: AwareDatetime = Field(description="When the case was closed.")
    retention_years: int = Field(ge=0, description="The rulebook's retention period applied.")
