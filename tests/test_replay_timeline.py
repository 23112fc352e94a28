"""A case's timeline reads as plain words, with corrections, reminders and deadlines in place."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from ledger import messages
from ledger.events import CASE_EVENT_TYPES, CaseEvent, EntryCorrected, ReminderIssued
from ledger.events.examples import CASE_ID, all_examples
from ledger.policies.rulebook import load_rulebook
from replay.timeline import build_timeline, describe


@pytest.fixture(autouse=True)
def bokmal_again() -> Iterator[None]:
    yield
    messages.set_language("nb")


def case_examples() -> list[CaseEvent]:
    return [e for e in all_examples() if isinstance(e, CaseEvent)]


@pytest.mark.parametrize("language", ["nb", "en"])
def test_every_event_type_is_told_in_a_sentence_of_its_own(language: str) -> None:
    messages.set_language(language)
    events = case_examples()
    assert {type(e) for e in events} == set(CASE_EVENT_TYPES)
    context = {e.event_id: e for e in events}
    for event in events:
        assert f"timeline.summary.{event.type}" in messages.catalogue(), event.type
        sentence = describe(event, context)
        assert "{" not in sentence and "timeline." not in sentence, (event.type, sentence)


def test_corrections_and_deliveries_stand_beside_what_they_belong_to() -> None:
    events = case_examples()
    last = max(e.recorded_at for e in events)
    timeline = build_timeline(CASE_ID, events, load_rulebook("default"), last + timedelta(days=1))
    by_type = {e.type: e for e in timeline.entries}
    correction = next(e for e in events if isinstance(e, EntryCorrected))
    corrected = next(e for e in events if e.event_id == correction.corrects)
    assert by_type["EntryCorrected"].corrects == corrected.sequence
    assert correction.sequence in by_type[corrected.type].corrected_by
    reminder = next(e for e in events if isinstance(e, ReminderIssued))
    for delivery in ("ReminderDelivered", "ReminderDeliveryFailed"):
        assert by_type[delivery].reminder_of == reminder.sequence
        assert by_type[delivery].sequence in by_type["ReminderIssued"].deliveries
    assert all(d.label and d.state_label for d in timeline.deadlines)
    met = [d for d in timeline.deadlines if d.met_by_sequence is not None]
    assert met and all(
        any(note.deadline_id == d.deadline_id for note in timeline.entries[
            [e.sequence for e in timeline.entries].index(d.met_by_sequence)].meets)
        for d in met
    )
    as_json = timeline.as_dict()
    assert as_json["entries"][0]["occurred_at"].endswith(("+01:00", "+02:00"))
