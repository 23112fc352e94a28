"""What every event carries: its id, its case, the actor, when it happened and was recorded."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

Role = Literal["staff", "leader", "coordinator", "tilsyn", "system"]
"""staff who meet children; their leader; the municipality's BTI coordinator; tilsyn; the daemon."""

Service = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,39}$")]
"""A service (tjeneste) as a lower-case slug: barnehage, skole, helsestasjon, ppt, barnevern …"""

Text = Annotated[str, StringConstraints(min_length=1, max_length=20_000, strip_whitespace=True)]
"""Free text a person wrote; never empty."""

Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
"""A person's, unit's or reference's name."""

Track = Literal["skolemiljo", "barnehagemiljo"]
Flag = Literal["skolemiljo", "barnehagemiljo", "violence_suspected"]
Party = Literal["guardians", "child"]
"""Who takes part in a samtale or gives a consent: the guardians (foresatte) or the child."""

KNOWN_SERVICES: tuple[str, ...] = (
    "barnehage", "skole", "sfo", "helsestasjon", "ppt", "barnevern", "bup",
    "familieteam", "fysioterapi", "psykisk_helse", "nav", "politi", "fastlege",
)


class Frozen(BaseModel):
    """A value that never changes once made; unknown fields are refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Actor(Frozen):
    """Who did it: the person, their role, their service and their unit."""

    person: Name
    role: Role
    service: Service
    unit: Name


class Event(Frozen):
    """An immutable fact in the ledger. Subclasses name what happened, in the past tense."""

    family: ClassVar[str] = ""
    type: str
    schema_version: int = Field(default=1, ge=1)
    event_id: UUID
    sequence: int = Field(ge=1, description="Position in its stream (case), from 1.")
    actor: Actor
    occurred_at: AwareDatetime = Field(description="When it happened, given by the user.")
    recorded_at: AwareDatetime = Field(description="When the ledger stored it (ledger clock).")

    @property
    def stream_id(self) -> UUID:
        """The id of the stream (a case, or the ledger itself) this event belongs to."""
        raise NotImplementedError

    # The eventsourcing library's DomainEventProtocol, so the Application can store us.
    @property
    def originator_id(self) -> UUID:
        return self.stream_id

    @property
    def originator_version(self) -> int:
        return self.sequence

    @property
    def timestamp(self) -> AwareDatetime:
        return self.recorded_at


class CaseEvent(Event):
    """An event on one child's case (sak)."""

    case_id: UUID

    @property
    def stream_id(self) -> UUID:
        return self.case_id


class LedgerEvent(Event):
    """An event about the ledger itself (its rulebook), not about a case."""

    ledger_id: UUID

    @property
    def stream_id(self) -> UUID:
        return self.ledger_id
