"""Which fields of which events are personal data about the child and family: stored encrypted.

One place, read by the store (`ledger/encryption.py`) and checked by a completeness test:
every text field of every event type is listed either in PERSONAL (encrypted with the case's
key, unreadable after erasure) or in CLEAR (stored as is, with why it may be).

Every personal field holds text, so an erased value reads back as ERASED and the event still
validates. In an EntryCorrected, `fields` stays a mapping: the values of its personal keys
are encrypted one by one, the others (dates, levels) stay clear.
"""

from __future__ import annotations

from ledger.events.base import Event
from ledger.events.case import (
    BrightSpotLogged,
    CaseClosed,
    CaseReopened,
    DecisionRecorded,
    DeviationRecorded,
    EntryCorrected,
    FlagCleared,
    InvestigationRecorded,
    LevelChanged,
    ReportedToBarnevern,
    SchoolOwnerNotified,
    TrackFlagged,
    UndringRegistered,
)
from ledger.events.consent import ConsentGiven, ConsentRefused, ServiceReleased
from ledger.events.samtale import (
    AnonymousConsultationHeld,
    ChildConversationHeld,
    MeetingHeld,
    SamtaleHeld,
)
from ledger.events.stafett import StafettHandoverDeclined
from ledger.events.tiltak import (
    EvaluationRecorded,
    TiltakCancelled,
    TiltakCompleted,
    TiltakPlanned,
)

ERASED = "[slettet]"
"""What a personal field reads as once its case's key is destroyed."""

PERSONAL: dict[type[Event], frozenset[str]] = {
    UndringRegistered: frozenset({"child_ref", "observations", "national_id"}),
    TrackFlagged: frozenset({"reason"}),
    FlagCleared: frozenset({"reason"}),
    InvestigationRecorded: frozenset({"looked_into", "findings"}),
    SchoolOwnerNotified: frozenset({"summary"}),
    ReportedToBarnevern: frozenset({"reference"}),
    BrightSpotLogged: frozenset({"observation"}),
    DecisionRecorded: frozenset({"child_view_weighed", "reason"}),
    LevelChanged: frozenset({"reason"}),
    CaseClosed: frozenset({"reason", "closing_note"}),
    CaseReopened: frozenset({"reason"}),
    EntryCorrected: frozenset({"fields", "why"}),
    DeviationRecorded: frozenset({"what_happened", "why"}),
    SamtaleHeld: frozenset({"child_view", "summary"}),
    ChildConversationHeld: frozenset({"summary"}),
    MeetingHeld: frozenset({"summary"}),
    AnonymousConsultationHeld: frozenset({"summary"}),
    ConsentGiven: frozenset({"purpose", "information"}),
    ConsentRefused: frozenset({"purpose"}),
    ServiceReleased: frozenset({"reason"}),
    StafettHandoverDeclined: frozenset({"reason"}),
    TiltakPlanned: frozenset({"description", "goal", "problem"}),
    TiltakCompleted: frozenset({"note"}),
    TiltakCancelled: frozenset({"reason"}),
    EvaluationRecorded: frozenset({"child_view", "child_view_missing_reason", "guardians_view"}),
}
"""Per event type, the fields written about the child or family: encrypted with the case key."""

CLEAR_REASONS = {
    "staff": "the name of an employee acting in their role, needed for the access policy, "
    "stafett and reminders (not the child's or family's data)",
    "unit": "the unit or service, needed for access, listings and statistics",
    "code": "a fixed code or slug chosen from a list, not free text about the child",
    "erasure": "says why a case was erased; it must stay readable after the erasure",
    "daemon": "written by the reminder daemon about delivery, with no case content",
}

CLEAR: dict[str, str] = {
    "unit": "unit",
    "service": "unit",
    "services": "unit",
    "with_service": "unit",
    "to_service": "unit",
    "responsible_service": "unit",
    "leader": "staff",
    "how": "code",
    "notified": "staff",
    "decided_by": "staff",
    "rule": "code",
    "trusted_adult": "staff",
    "participants": "staff",
    "coordinator": "staff",
    "contact": "staff",
    "person": "staff",
    "to_person": "staff",
    "responsible": "staff",
    "arena": "code",
    "deadline_id": "code",
    "to": "staff",
    "channel": "code",
    "idempotency_key": "code",
    "error": "daemon",
    "rulebook": "code",
    "rulebook_version": "code",
    "rulebook_digest": "code",
    "rulebook_document": "code",
    "reason@CaseErased": "erasure",
}
"""Text fields stored in clear, by name (or `name@Type` for one type), with the reason's key."""

PERSONAL_NAMES: frozenset[str] = frozenset().union(*PERSONAL.values()) - {"fields"}
"""Every personal field name: the keys of an EntryCorrected's `fields` that are encrypted."""


def personal_fields(cls: type[Event]) -> frozenset[str]:
    """The personal fields of an event type (none for most of the ledger's own events)."""
    return PERSONAL.get(cls, frozenset())
