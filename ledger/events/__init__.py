"""Every event the ledger stores, by family, with the action (verb) that records it."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from pydantic import Field, TypeAdapter

from ledger.events.base import Actor, CaseEvent, Event, LedgerEvent
from ledger.events.case import (
    BrightSpotLogged,
    CaseClosed,
    CaseErased,
    CaseReopened,
    DecisionRecorded,
    DeviationRecorded,
    EntryCorrected,
    FlagCleared,
    InvestigationRecorded,
    LevelChanged,
    ReportedToBarnevern,
    SchoolOwnerNotified,
    SharedWithLeader,
    TrackFlagged,
    UndringRegistered,
)
from ledger.events.consent import (
    ConsentGiven,
    ConsentRefused,
    ConsentWithdrawn,
    ServiceInvolved,
    ServiceReleased,
)
from ledger.events.ledger import RulebookAdopted
from ledger.events.reminders import (
    REMINDER_EVENTS,
    ReminderDelivered,
    ReminderDeliveryFailed,
    ReminderIssued,
)
from ledger.events.samtale import (
    AnonymousConsultationHeld,
    ChildConversationHeld,
    MeetingHeld,
    SamtaleHeld,
    SamtaleInvited,
)
from ledger.events.stafett import (
    StafettHandoverAccepted,
    StafettHandoverDeclined,
    StafettHandoverProposed,
    StafettholderAssigned,
)
from ledger.events.tiltak import (
    EvaluationRecorded,
    TiltakCancelled,
    TiltakCompleted,
    TiltakPlanned,
    TiltakStarted,
)

ACTIONS: dict[str, type[Event]] = {
    "register-undring": UndringRegistered,
    "share-with-leader": SharedWithLeader,
    "flag-track": TrackFlagged,
    "clear-flag": FlagCleared,
    "record-investigation": InvestigationRecorded,
    "notify-school-owner": SchoolOwnerNotified,
    "report-to-barnevern": ReportedToBarnevern,
    "hold-anonymous-consultation": AnonymousConsultationHeld,
    "invite-to-samtale": SamtaleInvited,
    "hold-samtale": SamtaleHeld,
    "give-consent": ConsentGiven,
    "refuse-consent": ConsentRefused,
    "withdraw-consent": ConsentWithdrawn,
    "involve-service": ServiceInvolved,
    "release-service": ServiceReleased,
    "assign-stafettholder": StafettholderAssigned,
    "propose-handover": StafettHandoverProposed,
    "accept-handover": StafettHandoverAccepted,
    "decline-handover": StafettHandoverDeclined,
    "hold-meeting": MeetingHeld,
    "plan-tiltak": TiltakPlanned,
    "start-tiltak": TiltakStarted,
    "complete-tiltak": TiltakCompleted,
    "cancel-tiltak": TiltakCancelled,
    "hold-child-conversation": ChildConversationHeld,
    "record-evaluation": EvaluationRecorded,
    "record-decision": DecisionRecorded,
    "change-level": LevelChanged,
    "log-bright-spot": BrightSpotLogged,
    "close-case": CaseClosed,
    "reopen-case": CaseReopened,
    "correct-entry": EntryCorrected,
    "record-deviation": DeviationRecorded,
    "erase-case": CaseErased,
    "issue-reminder": ReminderIssued,
    "record-reminder-delivered": ReminderDelivered,
    "record-reminder-delivery-failed": ReminderDeliveryFailed,
}
"""The verb a person uses (`bti record ACTION`) → the event it records. One per case event."""

CASE_EVENT_TYPES: tuple[type[CaseEvent], ...] = tuple(
    cls for cls in ACTIONS.values() if issubclass(cls, CaseEvent)
)
LEDGER_EVENT_TYPES: tuple[type[LedgerEvent], ...] = (RulebookAdopted,)
EVENT_TYPES: dict[str, type[Event]] = {
    cls.model_fields["type"].default: cls for cls in (*CASE_EVENT_TYPES, *LEDGER_EVENT_TYPES)
}
"""Every stored event type by its `type` name."""

ACTION_OF: dict[type[Event], str] = {cls: action for action, cls in ACTIONS.items()}

LEDGER_SET_FIELDS = frozenset(
    {"type", "schema_version", "event_id", "sequence", "recorded_at", "case_id", "ledger_id"}
)
"""Fields the ledger fills in itself; a person recording an action does not give them."""

AnyEvent = Annotated[
    UndringRegistered | SharedWithLeader | TrackFlagged | FlagCleared | InvestigationRecorded
    | SchoolOwnerNotified | ReportedToBarnevern | AnonymousConsultationHeld | SamtaleInvited
    | SamtaleHeld | ConsentGiven | ConsentRefused | ConsentWithdrawn | ServiceInvolved
    | ServiceReleased | StafettholderAssigned | StafettHandoverProposed
    | StafettHandoverAccepted | StafettHandoverDeclined | MeetingHeld | TiltakPlanned
    | TiltakStarted | TiltakCompleted | TiltakCancelled | ChildConversationHeld
    | EvaluationRecorded | DecisionRecorded | LevelChanged | BrightSpotLogged | CaseClosed
    | CaseErased | CaseReopened | EntryCorrected | DeviationRecorded | ReminderIssued | ReminderDelivered
    | ReminderDeliveryFailed | RulebookAdopted,
    Field(discriminator="type"),
]
ANY_EVENT: TypeAdapter[Any] = TypeAdapter(AnyEvent)


def event_from_json(data: bytes | str) -> Event:
    """Read one event from its public JSON shape (raises pydantic's ValidationError)."""
    event: Event = ANY_EVENT.validate_json(data)
    return event


def event_to_json(event: Event) -> bytes:
    """The public JSON shape of one event: the exact bytes the ledger stores and exports."""
    return orjson.dumps(event.model_dump(mode="json"))


__all__ = [
    "ACTIONS",
    "ACTION_OF",
    "ANY_EVENT",
    "CASE_EVENT_TYPES",
    "EVENT_TYPES",
    "LEDGER_EVENT_TYPES",
    "LEDGER_SET_FIELDS",
    "REMINDER_EVENTS",
    "Actor",
    "AnonymousConsultationHeld",
    "BrightSpotLogged",
    "CaseClosed",
    "CaseErased",
    "CaseEvent",
    "CaseReopened",
    "ChildConversationHeld",
    "ConsentGiven",
    "ConsentRefused",
    "ConsentWithdrawn",
    "DecisionRecorded",
    "DeviationRecorded",
    "EntryCorrected",
    "EvaluationRecorded",
    "Event",
    "FlagCleared",
    "InvestigationRecorded",
    "LedgerEvent",
    "LevelChanged",
    "MeetingHeld",
    "ReminderDelivered",
    "ReminderDeliveryFailed",
    "ReminderIssued",
    "ReportedToBarnevern",
    "RulebookAdopted",
    "SamtaleHeld",
    "SamtaleInvited",
    "SchoolOwnerNotified",
    "ServiceInvolved",
    "ServiceReleased",
    "SharedWithLeader",
    "StafettHandoverAccepted",
    "StafettHandoverDeclined",
    "StafettHandoverProposed",
    "StafettholderAssigned",
    "TiltakCancelled",
    "TiltakCompleted",
    "TiltakPlanned",
    "TiltakStarted",
    "TrackFlagged",
    "UndringRegistered",
    "event_from_json",
    "event_to_json",
]
