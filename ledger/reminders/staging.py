"""Recording on many cases at once: an event is checked and applied to the case in memory
(`stage_event`), and the cases of a batch are stored together (`CaseLedger.save_cases`).

One transaction for a batch of cases instead of one per event is what makes a round that has
thousands of reminders to issue or deliver take seconds, not minutes. The checks are the
ones `CaseLedger.record` makes (`Case.record`: the case's rules, the system actor records
only reminder events, no event id twice), and the event is built the same way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from ledger.application import CaseLedger, build_event
from ledger.case import Case
from ledger.events import Actor, CaseEvent


def stage_event(
    ledger: CaseLedger,
    case: Case,
    kind: type[CaseEvent],
    event_id: UUID,
    *,
    actor: Actor,
    occurred_at: datetime,
    **fields: Any,
) -> CaseEvent:
    """Check `kind` as the case's next event and apply it in memory; raises LedgerError."""
    now = ledger.clock()
    event = build_event(kind, {
        **{k: v for k, v in fields.items() if v is not None},
        "event_id": event_id,
        "case_id": case.id,
        "sequence": case.version + 1,
        "actor": actor,
        "occurred_at": occurred_at,
        "recorded_at": now,
    })
    case.record(event, ledger.rulebook, now)
    return event
