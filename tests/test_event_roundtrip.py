"""Every event's public JSON: the model, its bytes and the store all give back the same event."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
import pytest
from pydantic import ValidationError

from ledger.events import Event, event_from_json, event_to_json
from ledger.events.examples import all_examples
from ledger.events.personal import personal_fields
from ledger.store import open_store

EXAMPLES = all_examples()


def by_type(event: Event) -> str:
    return event.type


def public_json(event: Event) -> dict[str, Any]:
    """The event's public JSON as a dict, to change one value in it."""
    data: dict[str, Any] = orjson.loads(event_to_json(event))
    return data


def by_stream(events: list[Event]) -> dict[UUID, list[Event]]:
    streams: dict[UUID, list[Event]] = defaultdict(list)
    for event in events:
        streams[event.stream_id].append(event)
    return streams


@pytest.mark.parametrize("event", EXAMPLES, ids=by_type)
def test_an_event_read_back_from_its_json_is_equal(event: Event) -> None:
    read = event_from_json(event_to_json(event))
    assert type(read) is type(event)
    assert read == event


@pytest.mark.parametrize("event", EXAMPLES, ids=by_type)
def test_an_event_read_back_from_its_json_gives_the_same_bytes(event: Event) -> None:
    data = event_to_json(event)
    assert event_to_json(event_from_json(data)) == data


def test_every_example_is_stored_as_its_public_json_sealed_and_read_back_equal(
    database_url: str,
) -> None:
    streams = by_stream(EXAMPLES)
    writer = open_store(database_url)
    try:
        for events in streams.values():
            writer.save(*events)
    finally:
        writer.close()

    reader = open_store(database_url)  # a fresh application, as another process would read
    try:
        for stream_id, events in streams.items():
            assert list(reader.events.get(stream_id)) == events
            stored = reader.recorder.select_events(stream_id)
            assert [row.topic for row in stored] == [event.type for event in events]
            for row, event in zip(stored, events, strict=True):
                # The public shape, with each personal field's value sealed in its place.
                kept = orjson.loads(bytes(row.state))
                public = orjson.loads(event_to_json(event))
                assert list(kept) == list(public)
                for name, value in public.items():
                    if name in personal_fields(type(event)) and value is not None:
                        assert kept[name] != value
                    else:
                        assert kept[name] == value
    finally:
        reader.close()


@pytest.mark.parametrize("event", EXAMPLES, ids=by_type)
def test_an_occurred_at_without_a_utc_offset_is_refused(event: Event) -> None:
    data = public_json(event)
    data["occurred_at"] = "2026-01-12T14:05:00"
    with pytest.raises(ValidationError, match="Input should have timezone info"):
        event_from_json(orjson.dumps(data))
    with pytest.raises(ValidationError, match="Input should have timezone info"):
        type(event).model_validate(
            {**event.model_dump(), "occurred_at": datetime(2026, 1, 12, 14, 5)}
        )


@pytest.mark.parametrize("event", EXAMPLES, ids=by_type)
def test_an_unknown_field_is_refused(event: Event) -> None:
    data = public_json(event)
    data["note_to_self"] = "husk å ringe foresatte"
    with pytest.raises(ValidationError, match="note_to_self\n  Extra inputs are not permitted"):
        event_from_json(orjson.dumps(data))


def test_an_unknown_field_in_the_actor_is_refused() -> None:
    data = public_json(EXAMPLES[1])
    data["actor"]["phone"] = "+47 900 00 000"
    with pytest.raises(ValidationError, match=re.escape("actor.phone\n  Extra inputs are not permitted")):
        event_from_json(orjson.dumps(data))


@pytest.mark.parametrize("event", EXAMPLES, ids=by_type)
def test_an_event_cannot_be_changed_once_made(event: Event) -> None:
    with pytest.raises(ValidationError, match="Instance is frozen"):
        event.sequence = event.sequence + 1  # type: ignore[misc]
    with pytest.raises(ValidationError, match="Instance is frozen"):
        event.actor.person = "Noen Andre"  # type: ignore[misc]
