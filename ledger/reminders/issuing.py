"""Issuing: one ReminderIssued per (deadline, stage) whose time has come, recorded once.

Each tick:

1. brings the projections up to date (the daemon records with inline projections off and
   catches up once per round) and asks the deadline projection for the deadlines of open
   cases whose next reminder (the earliest stage not yet issued in the case) has fallen;
2. keeps the stages that have fallen (`due.reached_stages`) and that the outbox does not
   already hold as issued;
3. per case, loads the case and judges its deadlines again from its events at this moment
   (the one pure `deadlines` function): a deadline met or cancelled by now, or a case
   closed by now, gets no reminder, whatever the projection said a moment ago;
4. writes the outbox rows, then records the ReminderIssued with the derived id. A
   `duplicate_event` refusal means another daemon (or this one before a crash) recorded it
   already: expected, counted, not an error.

Steps 3 and 4 go a batch of cases at a time (`BATCH_CASES`): the rows of the batch in one
transaction, its events in one save, its marks in one transaction (`Issuer._issue_batch`).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from ledger.application import CaseLedger, latest_rulebook
from ledger.case import Case
from ledger.errors import LedgerError
from ledger.events import Actor, ReminderIssued
from ledger.policies.deadlines import Deadline, deadlines
from ledger.policies.rulebook import Rulebook
from ledger.projections.case_summary import utc_text
from ledger.projections.open_deadlines import NOT_YET_KNOWN
from ledger.projections.sql import Database
from ledger.reminders.due import (
    DueReminder,
    late_by,
    reached_stages,
    recipients,
)
from ledger.reminders.logs import note
from ledger.reminders.outbox import Intent, Outbox
from ledger.reminders.staging import stage_event

BATCH_CASES = 200
"""Cases issued together: their outbox rows, events and marks each in one transaction."""


@dataclass
class IssueReport:
    """What one tick did."""

    issued: int = 0
    late: int = 0
    seen_before: int = 0
    """Issued at an earlier tick: the outbox has them. Counted for deadlines read again for a
    later stage (or before the projection caught up); one owing no stage is not read."""
    duplicates: int = 0
    """Already in the case (another daemon was quicker, or they came with an import): the
    ledger refuses a second, as it should."""
    not_needed: int = 0
    """Met, cancelled or the case closed by the time the daemon looked."""
    refused: int = 0
    """Refused by the ledger for another reason (logged)."""


def owed_deadlines(db: Database, now: datetime) -> list[Deadline]:
    """Deadlines of open cases whose next reminder has fallen by `now`, from the projections.

    The deadline projection keeps, per deadline, when the earliest stage not yet issued in
    the case falls (`next_reminder_at`, NULL when none is owed), so this is an index range
    over what is due now: a tick does not grow with the missed deadlines of open cases whose
    every stage is issued, nor with the deadlines whose stages are still to come. Rows
    written before the column existed are read every time until the projection is rebuilt.
    """
    statement = (
        f"SELECT d.deadline, d.next_reminder_at FROM {db.table('bti_deadlines')} d "
        f"JOIN {db.table('bti_case_summary')} s ON s.case_id = d.case_id "
        "WHERE d.next_reminder_at <= %s AND s.status = 'open' "
        "ORDER BY d.due_at, d.deadline_id"
    )
    with db.transaction() as cursor:
        cursor.execute(statement, (utc_text(now),))
        rows = cursor.fetchall()
    unknown = sum(1 for _, next_at in rows if next_at == NOT_YET_KNOWN)
    if unknown:
        note("deadlines_not_rebuilt", rows=unknown, level=logging.WARNING)
    return [Deadline.model_validate_json(deadline) for deadline, _ in rows]


def catch_up(ledger: CaseLedger) -> None:
    """Bring the projections up to the head of the log (the daemon's ledger does not after
    each event it records: one catch-up per round is enough and much cheaper)."""
    try:
        ledger.read_models.catch_up()
    except Exception:  # the events are safe; the next round catches up
        note("projections_behind", level=logging.WARNING, exc_info=True)


class Issuer:
    """Records the reminders that are due, each once."""

    def __init__(
        self,
        ledger: CaseLedger,
        outbox: Outbox,
        actor: Actor,
        channels: Sequence[str],
        on_time_within: timedelta,
    ) -> None:
        self.ledger = ledger
        self.outbox = outbox
        self.actor = actor
        self.channels = tuple(channels)
        self.on_time_within = on_time_within

    def issue(self, now: datetime) -> IssueReport:
        """Record every reminder due at `now` that is not recorded yet."""
        report = IssueReport()
        rulebook = self._rulebook()
        catch_up(self.ledger)
        candidates = [
            due
            for deadline in owed_deadlines(self.ledger.read_models.db, now)
            for due in reached_stages(deadline, rulebook, now)
        ]
        known = self.outbox.known(due.reminder_id for due in candidates)
        by_case: dict[UUID, list[DueReminder]] = defaultdict(list)
        for due in candidates:
            if due.reminder_id in known:
                report.seen_before += 1
            else:
                by_case[due.deadline.case_id].append(due)
        cases = list(by_case.items())
        for first in range(0, len(cases), BATCH_CASES):
            self._issue_batch(cases[first:first + BATCH_CASES], rulebook, now, report)
        return report

    def _rulebook(self) -> Rulebook:
        # A rulebook adopted while the daemon runs counts from the next tick on.
        adopted = latest_rulebook(self.ledger.store)
        if adopted is not None and adopted.rulebook_digest != self.ledger.rulebook.digest:
            self.ledger.rulebook = Rulebook.model_validate(adopted.rulebook_document)
        return self.ledger.rulebook

    def _issue_batch(
        self,
        batch: list[tuple[UUID, list[DueReminder]]],
        rulebook: Rulebook,
        now: datetime,
        report: IssueReport,
    ) -> None:
        """Issue the reminders of a batch of cases with three commits, not three per case.

        The order is the one a single case has, for the whole batch: (1) the outbox rows,
        (2) the ReminderIssued events of every case, (3) the rows marked issued. A crash
        after (1) leaves `intended` rows without events: the next tick issues them (a row
        only `intended` does not count as issued), and delivery waits for the event. A crash
        after (2) leaves events whose rows are `intended`: the next tick finds them in the
        case and counts them as duplicates, and delivery marks the rows pending and delivers
        them. Nothing is lost and, the ids being derived, nothing is recorded twice.
        """
        judged: list[tuple[Case, list[Intent]]] = []
        for case_id, due_here in batch:
            try:
                case = self.ledger.case_for_daemon(case_id)
                intents = self._judge(case, due_here, rulebook, now, report)
            except Exception:  # one case that cannot be read never stops the others
                report.refused += len(due_here)
                note("case_failed", case_id=case_id, now=now, level=logging.ERROR, exc_info=True)
                continue
            if intents:
                judged.append((case, intents))
        if not judged:
            return
        # The rows first, in one transaction: a crash after it never loses a reminder.
        try:
            self.outbox.intend([i for _, intents in judged for i in intents], self.channels, now)
        except Exception:  # the batch's rows could not be written: each case on its own
            note("batch_failed", step="intend", cases=len(judged), now=now,
                 level=logging.WARNING, exc_info=True)
            self._case_by_case(judged, now, report, intended=False)
            return
        recorded = self._record_batch(judged, now, report)
        self.outbox.mark_issued(recorded, now)

    def _record_batch(
        self, judged: list[tuple[Case, list[Intent]]], now: datetime, report: IssueReport
    ) -> list[UUID]:
        """Record the ReminderIssued events of a batch in one save; the reminders now in the
        ledger. A save that clashes (another writer on one of the cases) or fails is done
        again case by case, so one case never costs the others their reminders."""
        staged: list[tuple[Intent, LedgerError | None]] = []
        for case, intents in judged:
            for intent in intents:
                try:
                    stage_event(self.ledger, case, ReminderIssued, intent.reminder_id,
                                actor=self.actor, occurred_at=now, **_event_fields(intent))
                except LedgerError as error:  # refused by the case, not by the store
                    staged.append((intent, error))
                else:
                    staged.append((intent, None))
        try:
            self.ledger.save_cases([case for case, _ in judged if case.pending])
        except Exception as error:
            note("batch_failed", step="record", cases=len(judged), now=now,
                 error=f"{type(error).__name__}: {error}", level=logging.WARNING)
            return self._case_by_case(judged, now, report, intended=True)
        return [intent.reminder_id for intent, error in staged
                if self._recorded(intent, error, now, report)]

    def _case_by_case(
        self,
        judged: list[tuple[Case, list[Intent]]],
        now: datetime,
        report: IssueReport,
        *,
        intended: bool,
    ) -> list[UUID]:
        """The batch one case at a time, as a round did before batches: each case's rows,
        then its events (each read again by `CaseLedger.record`), then its marks."""
        recorded: list[UUID] = []
        for case, intents in judged:
            try:
                if not intended:
                    self.outbox.intend(intents, self.channels, now)
                here = [i.reminder_id for i in intents if self._record(i, now, report)]
                if not intended:
                    self.outbox.mark_issued(here, now)
                recorded += here
            except Exception:  # one case that cannot be written never stops the others
                report.refused += len(intents)
                note("case_failed", case_id=case.id, now=now, level=logging.ERROR, exc_info=True)
        return recorded

    def _judge(
        self,
        case: Case,
        due_here: list[DueReminder],
        rulebook: Rulebook,
        now: datetime,
        report: IssueReport,
    ) -> list[Intent]:
        """The reminders of `due_here` the case still needs, judged from its own events now."""
        if case.status != "open":
            report.not_needed += len(due_here)
            return []
        # Judged again from the case's own events now: the projection may lag behind.
        current = {d.deadline_id: d for d in deadlines(case.events, rulebook, now)}
        intents: list[Intent] = []
        for due in due_here:
            deadline = current.get(due.deadline.deadline_id)
            stages = reached_stages(deadline, rulebook, now) if deadline is not None else []
            still = next((s for s in stages if s.stage.name == due.stage.name), None)
            if still is None:
                report.not_needed += 1
                note("reminder_not_needed", case_id=case.id, deadline_id=due.deadline.deadline_id,
                     stage=due.stage.name, now=now)
                continue
            intent = self._intent(case, still, now, report)
            if intent is not None:
                intents.append(intent)
        return intents

    def _intent(
        self, case: Case, due: DueReminder, now: datetime, report: IssueReport
    ) -> Intent | None:
        """What to record for `due`, or None if there is nothing to record."""
        deadline = due.deadline
        basis = case.event(deadline.basis_event_id)
        known_at = basis.recorded_at if basis is not None else due.falls_at
        intent = Intent(
            reminder_id=due.reminder_id, case_id=case.id, deadline_id=deadline.deadline_id,
            rule=deadline.rule, stage=due.stage.name, due_at=deadline.due_at,
            recipients=recipients(due.stage, case.holder, case.leader),
            late_by_seconds=late_by(due.falls_at, known_at, now, self.on_time_within),
        )
        if due.reminder_id in case.event_ids:
            # In the case, but the outbox did not have it as issued: it came with an import.
            self.outbox.not_ours(intent, self.channels, now)
            report.duplicates += 1
            note("reminder_already_in_case", **_facts(intent, now))
            return None
        if not intent.recipients:
            report.refused += 1
            note("reminder_without_recipient", **_facts(intent, now))
            return None
        return intent

    def _record(self, intent: Intent, now: datetime, report: IssueReport) -> bool:
        """Record one ReminderIssued; True if it is in the ledger now (by us or another)."""
        try:
            self.ledger.record(ReminderIssued, intent.case_id, actor=self.actor,
                               occurred_at=now, event_id=intent.reminder_id,
                               **_event_fields(intent))
        except LedgerError as error:
            return self._recorded(intent, error, now, report)
        return self._recorded(intent, None, now, report)

    def _recorded(
        self, intent: Intent, error: LedgerError | None, now: datetime, report: IssueReport
    ) -> bool:
        """Count and log how recording `intent` went; True if it is in the ledger now."""
        if error is not None:
            if error.code == "duplicate_event":
                report.duplicates += 1
                return True
            report.refused += 1
            note("reminder_refused", code=error.code, **_facts(intent, now))
            return False
        report.issued += 1
        if intent.late_by_seconds is not None:
            report.late += 1
        note("reminder_issued", to=list(intent.recipients),
             late_by_seconds=intent.late_by_seconds, **_facts(intent, now))
        return True


def _event_fields(intent: Intent) -> dict[str, Any]:
    return {"deadline_id": intent.deadline_id, "rule": intent.rule, "stage": intent.stage,
            "due_at": intent.due_at, "to": intent.recipients,
            "late_by_seconds": intent.late_by_seconds}


def _facts(intent: Intent, now: datetime) -> dict[str, Any]:
    return {"case_id": intent.case_id, "deadline_id": intent.deadline_id, "rule": intent.rule,
            "stage": intent.stage, "reminder_id": intent.reminder_id, "now": now}
