"""Access: who may read and who may write one case, at one moment (DOMAIN.md rule 4).

The grants a case gives, in this order (`grants`):

- **own_service** — staff and leaders of the case's own service *in the case's own unit*
  read and write. A teacher at another school of the same municipality is not let in by
  being a teacher (the unit is the tjenestested that holds the case).
- **leader** — the leader the undring was shared with (SharedWithLeader; 000 N0 T2), acting
  for the case's own service, read and write: the leader decides who follows up (000 N0 T2
  "skal det avgjøres hvem som tar kontakt") and co-decides (002 nivå 1 "Stafettholder og
  styrer/rektor"), even when their unit is not the case's (an enhetsleder over several
  barnehager).
- **stafettholder** — the person who holds the baton, acting for the service they hold it
  for, read and write. A holder from another service holds it only under a consent that
  covers that service: when it is withdrawn or runs out, so does the holder's access
  (rule 4 "After withdrawal the service loses access at once"; case.py refuses their
  events then too).
- **pending_handover** — the person a handover is proposed to reads the case, to decide,
  and may record only the answer (StafettHandoverAccepted / Declined). Everything else waits
  until they have accepted: until then the old holder keeps the baton (rule 9), and a
  proposal is not yet a yes. A person of another service needs a consent for it, as above.
- **consent** — staff of every service a consent covers at the moment, any unit of it,
  read and write, one grant per consent and service (a consent names services, not persons
  or units: DOMAIN.md "samtykke"). Withdrawn or expired, the grant is gone at once. A consent
  that names the case's own service adds nothing: the own service is let in by its unit.
- **tilsyn** — reads the whole case, never writes.
- **coordinator_statistics** — the BTI coordinator reads no case; the case counts in the
  statistics (reported above the rulebook's small-number threshold). The grant allows
  nothing and is listed so that the Access projection shows the basis.
- **reminder_daemon** — role `system` records ReminderIssued and nothing else, and reads no
  case (it reads the deadline projection).

Anonymous consultation (NN-drøfting) gives no access: it shares no identity. A report to
barnevern gives barnevern the report, not the case log. Releasing a service (ServiceReleased)
does not end its access while a consent still covers it, as case.py lets it record events
then too; the guardians withdraw the consent to end it.

An actor with an office role (tilsyn, coordinator, system) is judged by the role alone; an
actor with role staff or leader by their service, unit and name. Persons are recognised by
name and service, as the events name them (StafettholderAssigned, SharedWithLeader).

Whether the case accepts an event at all (closed, out of order, rules 1–10) is the
aggregate's business, not this module's: here is only *who*.

`case` is the case as of the moment of interest; `at` judges consents (given, withdrawn,
expired). Pure: no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal
from uuid import UUID

from ledger.events import (
    Actor,
    CaseEvent,
    ReminderIssued,
    StafettHandoverAccepted,
    StafettHandoverDeclined,
)
from ledger.policies.calendar import end_of_day
from ledger.policies.consent import ConsentState

if TYPE_CHECKING:  # the aggregate asks this module who may write; no import cycle at run time
    from ledger.case import Case

PrincipalKind = Literal["service", "person", "role"]
Basis = Literal[
    "own_service",
    "leader",
    "stafettholder",
    "pending_handover",
    "consent",
    "tilsyn",
    "coordinator_statistics",
    "reminder_daemon",
]
Refusal = Literal[
    "other_unit",
    "consent_required",
    "consent_withdrawn",
    "consent_expired",
    "handover_not_accepted",
    "read_only_role",
    "statistics_only",
    "reminders_only",
    "no_access",
]
"""Why an actor may not read or write; the catalogue has `access.refused.<code>`."""

_OFFICE_REFUSALS: dict[str, Refusal] = {
    "tilsyn": "read_only_role",
    "coordinator": "statistics_only",
    "system": "reminders_only",
}
OFFICE_ROLES = frozenset(_OFFICE_REFUSALS)
"""Roles that reach a case by office, not as staff of a service taking part in it."""
_ANSWERS = (StafettHandoverAccepted.__name__, StafettHandoverDeclined.__name__)
_REMINDERS = (ReminderIssued.__name__, "ReminderDelivered", "ReminderDeliveryFailed")
_INSTANT = timedelta(microseconds=1)


@dataclass(frozen=True)
class Grant:
    """One principal's access to one case: who, read and/or write, on what basis, until when."""

    principal_kind: PrincipalKind
    principal: str
    """A service slug, a person's name, or a role ("tilsyn", "coordinator", "system")."""
    may_read: bool
    may_write: bool
    basis: Basis
    consent_id: UUID | None = None
    """The consent the grant rests on, if it rests on one."""
    until: datetime | None = None
    """The last instant the grant holds by what the case already knows: the end of the
    consent's valid_until day in Oslo, or just before a withdrawal already recorded for a
    later moment. None: no end."""
    unit: str | None = None
    """A service grant for this unit only (the own service); None: every unit."""
    service: str | None = None
    """A person grant while the person acts for this service."""
    writes: tuple[str, ...] | None = None
    """The event types the grant lets one record (by type name); None: any."""

    def applies_to(self, actor: Actor) -> bool:
        """Whether `actor` is the principal of this grant."""
        if self.principal_kind == "role":
            return actor.role == self.principal
        if actor.role in OFFICE_ROLES:
            return False
        if self.principal_kind == "service":
            return actor.service == self.principal and self.unit in (None, actor.unit)
        return actor.person == self.principal and self.service in (None, actor.service)

    def lets_write(self, event_type: str | None) -> bool:
        """Whether the grant lets its principal record `event_type` (None: anything at all)."""
        if not self.may_write:
            return False
        return self.writes is None or (event_type is not None and event_type in self.writes)


def grants(case: Case, at: datetime) -> list[Grant]:
    """Every grant `case` gives at moment `at`, in the order of the module docstring."""
    return list(_each_grant(case, at))


def _each_grant(case: Case, at: datetime) -> Iterator[Grant]:
    # Lazily, in order: a check stops at the first grant that lets the actor in, which for
    # nearly every event is the first one (the own service), without building the rest.
    if case.status == "new":
        return
    yield Grant("service", case.service, True, True, "own_service", unit=case.unit)
    if case.leader is not None:
        yield Grant("person", case.leader, True, True, "leader", service=case.service)
    if case.holder is not None and case.holder_service is not None:
        yield from _person_grant(case, case.holder, case.holder_service, at, "stafettholder")
    if case.pending_handover is not None:
        pending = case.pending_handover
        yield from _person_grant(case, pending.to_person, pending.to_service, at,
                                 "pending_handover", writes=_ANSWERS)
    consents = sorted(case.consents.values(), key=lambda c: (c.given_at, str(c.consent_id)))
    yield from (
        Grant("service", service, True, True, "consent", consent_id=consent.consent_id,
              until=_until(consent, service, at))
        for service in sorted({s for c in consents for s in c.services} - {case.service})
        for consent in consents
        if consent.covers(service, at)
    )
    yield Grant("role", "tilsyn", True, False, "tilsyn")
    yield Grant("role", "coordinator", False, False, "coordinator_statistics")
    yield Grant("role", "system", False, True, "reminder_daemon", writes=_REMINDERS)


def may_read(case: Case, actor: Actor, at: datetime) -> bool:
    """Whether `actor` may read `case` at moment `at`."""
    return _own_service(case, actor) or any(
        g.may_read and g.applies_to(actor) for g in _each_grant(case, at)
    )


def may_write(
    case: Case, actor: Actor, at: datetime, event_type: type[CaseEvent] | str | None = None
) -> bool:
    """Whether `actor` may record events on `case` at moment `at`.

    With `event_type` (a class or its type name): whether they may record that one. Without
    it: whether they may record events in general, so the daemon (reminders only) and a
    proposed stafettholder (their answer only) are refused.
    """
    name = event_type.__name__ if isinstance(event_type, type) else event_type
    return _own_service(case, actor) or any(
        g.lets_write(name) and g.applies_to(actor) for g in _each_grant(case, at)
    )


def _own_service(case: Case, actor: Actor) -> bool:
    """The first grant (own_service: read and write anything), decided without building it:
    nearly every event is recorded by the case's own service, and import checks each one."""
    return (
        case.status != "new" and actor.role not in OFFICE_ROLES
        and actor.service == case.service and case.unit in (None, actor.unit)
    )


def refusal(
    case: Case,
    actor: Actor,
    at: datetime,
    *,
    write: bool,
    event_type: type[CaseEvent] | str | None = None,
) -> Refusal | None:
    """None if `actor` may read (or, with `write`, record) at `at`; else why not, as a code."""
    allowed = may_write(case, actor, at, event_type) if write else may_read(case, actor, at)
    if allowed:
        return None
    if actor.role in OFFICE_ROLES:
        return _OFFICE_REFUSALS[actor.role]
    if case.status == "new":
        return "no_access"
    mine = [g for g in grants(case, at) if g.applies_to(actor)]
    if any(g.basis == "pending_handover" for g in mine):
        return "handover_not_accepted"
    if actor.service == case.service:
        return "other_unit"
    return _consent_refusal(case, actor.service, at)


# ---- consents, as the grants read them --------------------------------------------------


def _person_grant(
    case: Case,
    person: str,
    service: str,
    at: datetime,
    basis: Basis,
    *,
    writes: tuple[str, ...] | None = None,
) -> list[Grant]:
    """A grant for `person` acting for `service`: under a consent if it is not the own one."""
    if service == case.service:
        return [Grant("person", person, True, True, basis, service=service, writes=writes)]
    covering = [c for c in case.consents.values() if c.covers(service, at)]
    if not covering:
        return []
    longest = max(covering, key=lambda c: _until_key(_until(c, service, at)))
    return [
        Grant(
            "person", person, True, True, basis, consent_id=longest.consent_id,
            until=_until(longest, service, at), service=service, writes=writes,
        )
    ]


def _until(consent: ConsentState, service: str, at: datetime) -> datetime | None:
    """The last instant `consent` covers `service`, as far as the case knows at `at`."""
    ends = []
    if consent.valid_until is not None:
        ends.append(end_of_day(consent.valid_until))
    withdrawn_at = consent.withdrawn.get(service)
    if withdrawn_at is not None and withdrawn_at > at:
        ends.append(withdrawn_at - _INSTANT)
    return min(ends) if ends else None


def _until_key(until: datetime | None) -> tuple[bool, datetime | None]:
    # None (no end) outlasts every date.
    return (until is None, until)


def _consent_refusal(case: Case, service: str, at: datetime) -> Refusal:
    """Why `service` has no consent at `at`: never had one, or the latest one was withdrawn
    or ran out (the one that ended last tells)."""
    lost: list[tuple[datetime, Refusal]] = []
    for consent in case.consents.values():
        if service not in consent.services or at < consent.given_at:
            continue
        withdrawn_at = consent.withdrawn.get(service)
        expired_at = end_of_day(consent.valid_until) if consent.valid_until else None
        if expired_at is not None and expired_at < at and (
            withdrawn_at is None or expired_at < withdrawn_at
        ):
            lost.append((expired_at, "consent_expired"))
        elif withdrawn_at is not None and withdrawn_at <= at:
            lost.append((withdrawn_at, "consent_withdrawn"))
    return max(lost)[1] if lost else "consent_required"
