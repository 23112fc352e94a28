"""Events of tiltak: planned, started, completed or cancelled, and evaluated."""

from __future__ import annotations

from datetime import date
from typing import Literal
from uuid import UUID

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from ledger.events.base import CaseEvent, Name, Service, Text


class TiltakPlanned(CaseEvent):
    """A tiltak was planned; in a § 12-sak with all five elements of § 12-4 (000; 001 N1 2)."""

    family = "tiltak"
    type: Literal["TiltakPlanned"] = "TiltakPlanned"
    tiltak_id: UUID
    description: Text = Field(description="What the tiltak is.")
    goal: Text
    problem: Text | None = Field(default=None, description="The problem it solves (§ 12-4).")
    responsible: Name | None = Field(default=None, description="Who carries it out.")
    responsible_service: Service | None = None
    arena: Name | None = Field(default=None, description="Home, class, barnehage group …")
    starts_at: date | None = Field(default=None, description="When it is carried out.")
    evaluate_by: date | None = Field(default=None, description="When it is evaluated.")


class TiltakStarted(CaseEvent):
    """A planned tiltak began (001 N1 3)."""

    family = "tiltak"
    type: Literal["TiltakStarted"] = "TiltakStarted"
    tiltak_id: UUID


class TiltakCompleted(CaseEvent):
    """A tiltak was carried through."""

    family = "tiltak"
    type: Literal["TiltakCompleted"] = "TiltakCompleted"
    tiltak_id: UUID
    note: Text | None = None


class TiltakCancelled(CaseEvent):
    """A tiltak was stopped before it was carried through."""

    family = "tiltak"
    type: Literal["TiltakCancelled"] = "TiltakCancelled"
    tiltak_id: UUID
    reason: Text


EvaluationOutcome = Literal["goal_reached", "effect_not_there_yet", "no_effect"]


class EvaluationRecorded(CaseEvent):
    """Tiltak were evaluated: did they work, and what do the child and guardians say (rule 8)."""

    family = "tiltak"
    type: Literal["EvaluationRecorded"] = "EvaluationRecorded"
    tiltak_ids: tuple[UUID, ...] = Field(min_length=1)
    outcome: EvaluationOutcome
    child_view: Text | None = None
    child_view_missing_reason: Text | None = Field(
        default=None, description="Why the child's view was not obtained."
    )
    guardians_view: Text | None = None

    @model_validator(mode="after")
    def _unique_tiltak(self) -> EvaluationRecorded:
        if len(set(self.tiltak_ids)) != len(self.tiltak_ids):
            raise PydanticCustomError("tiltak_named_twice", "a tiltak is named twice")
        return self
