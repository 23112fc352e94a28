"""A case as the ledger knew it at a moment: its state, level, stafettholder and deadlines.

"As the ledger knew it" means the events *recorded* up to that moment (`recorded_at`), not
the events that *happened* by then: an event entered afterwards, and a correction recorded
afterwards, are not yet applied. The state is `Case.replay` over those events and the
deadlines are the pure `deadlines(events, rulebook, moment)` with the rulebook the ledger
followed at that moment — the same functions the ledger itself uses (one truth).

A moment without a time zone is read as Europe/Oslo time, as people in the municipality
mean it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

from ledger.application import CaseLedger, parse_uuid
from ledger.case import Case
from ledger.errors import LedgerError
from ledger.events import CaseEvent, Event, RulebookAdopted
from ledger.events.ledger import LEDGER_ID
from ledger.policies.calendar import OSLO
from ledger.policies.deadlines import Deadline, deadlines
from ledger.policies.rulebook import Rulebook
from ledger.projections.case_summary import CaseSummary, summarise


def aware(moment: datetime) -> datetime:
    """`moment` with a time zone: a naive one is Oslo local time."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        return moment.replace(tzinfo=OSLO)
    return moment


def recorded_by(events: Iterable[Event], moment: datetime) -> list[Event]:
    """The events recorded at or before `moment`, in recorded order."""
    limit = aware(moment)
    return [e for e in events if e.recorded_at <= limit]


def rulebook_as_of(ledger: CaseLedger, moment: datetime) -> Rulebook:
    """The rulebook the ledger followed at `moment` (its first one, before it had any)."""
    adopted = [
        e for e in ledger.store.events.get(LEDGER_ID) if isinstance(e, RulebookAdopted)
    ]
    if not adopted:
        return ledger.rulebook
    known = recorded_by(adopted, moment) or adopted[:1]
    latest = known[-1]
    assert isinstance(latest, RulebookAdopted)  # recorded_by keeps the type it was given
    return Rulebook.model_validate(latest.rulebook_document)


def case_events_as_of(ledger: CaseLedger, case_id: UUID | str, moment: datetime) -> list[CaseEvent]:
    """The case's events recorded up to `moment`; `case_unknown` if none were by then."""
    history = ledger.history(case_id)
    known = [e for e in history if e.recorded_at <= aware(moment)]
    if not known:
        raise LedgerError("case_unknown", case=case_id)
    return known


def case_as_of(ledger: CaseLedger, case_id: UUID | str, moment: datetime) -> Case:
    """The case's state as the ledger knew it at `moment` (corrections recorded later not applied)."""
    events = case_events_as_of(ledger, case_id, moment)
    return Case.replay(parse_uuid(case_id, "case_id"), events)


def case_summary_as_of(ledger: CaseLedger, case_id: UUID | str, moment: datetime) -> CaseSummary:
    """The case summary (as `bti case show` prints it) as the ledger knew it at `moment`."""
    return summarise(case_as_of(ledger, case_id, moment), aware(moment))


def deadlines_as_of(ledger: CaseLedger, case_id: UUID | str, moment: datetime) -> list[Deadline]:
    """The case's deadlines as the ledger knew them at `moment`, judged at that moment."""
    events = case_events_as_of(ledger, case_id, moment)
    return deadlines(events, rulebook_as_of(ledger, moment), aware(moment))


def all_deadlines_as_of(
    ledger: CaseLedger,
    moment: datetime,
    *,
    unit: str | None = None,
    holder: str | None = None,
    include_closed: bool = False,
) -> list[Deadline]:
    """Every case's deadlines as the ledger knew them at `moment` (for `bti deadlines --as-of`).

    Open and missed ones unless `include_closed`; `unit` and `holder` filter as the deadline
    projection does (the holder as it was at `moment`). Sorted by due time.
    """
    moment = aware(moment)
    rulebook = rulebook_as_of(ledger, moment)
    found: list[Deadline] = []
    for summary in ledger.list_cases(unit=unit):
        events = [e for e in ledger.history(summary.case_id) if e.recorded_at <= moment]
        if not events:
            continue  # registered after the moment
        for deadline in deadlines(events, rulebook, moment):
            if holder is not None and deadline.holder != holder:
                continue
            if not include_closed and deadline.state not in ("open", "missed"):
                continue
            if not include_closed and deadline.state == "missed" and deadline.met_by is not None:
                continue  # done late: nothing left to do
            found.append(deadline)
    return sorted(found, key=lambda d: (d.due_at, d.rule, d.deadline_id))
