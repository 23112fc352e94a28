"""Completeness: every text field of every event is either personal (sealed) or clear on purpose."""

from __future__ import annotations

import typing
from typing import Any

import pytest

from ledger.events import EVENT_TYPES, Event
from ledger.events.examples import example
from ledger.events.personal import CLEAR, CLEAR_REASONS, ERASED, PERSONAL, personal_fields

BASE_FIELDS = set(Event.model_fields) | {"case_id", "ledger_id"}


def holds_text(annotation: Any) -> bool:
    """Whether a field's type can carry free text: str, a mapping, or a container of them."""
    if annotation is str or annotation is Any:
        return True
    origin = typing.get_origin(annotation)
    if origin is dict:
        return True
    if origin is typing.Literal:
        return False
    return any(holds_text(arg) for arg in typing.get_args(annotation))


def text_fields(cls: type[Event]) -> set[str]:
    return {
        name for name, info in cls.model_fields.items()
        if name not in BASE_FIELDS and holds_text(info.annotation)
    }


@pytest.mark.parametrize("type_name", sorted(EVENT_TYPES))
def test_every_text_field_is_personal_or_clear_for_a_reason(type_name: str) -> None:
    cls = EVENT_TYPES[type_name]
    unlisted = {
        name for name in text_fields(cls) - personal_fields(cls)
        if name not in CLEAR and f"{name}@{type_name}" not in CLEAR
    }
    assert not unlisted, f"{type_name}: say whether {sorted(unlisted)} is personal or clear"
    assert personal_fields(cls) <= set(cls.model_fields)


def test_every_clear_field_gives_a_known_reason() -> None:
    assert set(CLEAR.values()) <= set(CLEAR_REASONS)


@pytest.mark.parametrize("cls", list(PERSONAL), ids=lambda c: c.__name__)
def test_an_erased_personal_field_still_makes_a_valid_event(cls: type[Event]) -> None:
    values = example(cls).model_dump()
    for name in personal_fields(cls):
        if name == "fields":
            values[name] = {k: ERASED for k in values[name]}
        else:
            values[name] = ERASED
    assert cls.model_validate(values)
