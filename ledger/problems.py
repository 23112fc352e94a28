"""Pydantic's validation problems, in the catalogue's words."""

from __future__ import annotations

import re
from typing import Any, get_args

from pydantic_core import ErrorDetails

from ledger.events.base import Service
from ledger.messages import text

WORDED: frozenset[str] = frozenset({
    # a field missing, or one that does not exist
    "missing", "extra_forbidden",
    # text
    "string_type", "string_unicode", "string_too_short", "string_too_long",
    "string_pattern_mismatch",
    # whole numbers and their bounds
    "int_type", "int_parsing", "int_parsing_size", "int_from_float", "finite_number",
    "greater_than_equal", "greater_than", "less_than_equal", "less_than",
    # yes or no
    "bool_type", "bool_parsing",
    # dates and moments
    "date_type", "date_parsing", "date_from_datetime_parsing", "date_from_datetime_inexact",
    "datetime_type", "datetime_parsing", "datetime_from_date_parsing", "timezone_aware",
    # ids
    "uuid_type", "uuid_parsing",
    # one of a fixed list
    "literal_error", "enum",
    # groups of fields, and lists
    "model_type", "dict_type", "invalid_key", "tuple_type", "list_type", "too_short", "too_long",
    # the events' own checks (PydanticCustomError in ledger/events/)
    "to_level_required", "to_level_not_moving", "tiltak_named_twice",
    # a rulebook's own checks (ledger/policies/rulebook.py)
    "source_missing", "string_blank", "upcoming_offset_days", "due_offset_days",
    "overdue_offset_days", "self_consent_age_above_18", "level3_services_below_2",
    "stage_names_repeated",
    # the daemon configuration's own checks (ledger/reminders/config.py)
    "duration_unreadable", "duration_not_positive", "channel_listed_twice",
    "channel_without_section",
})
"""Every pydantic error type with words of its own in the catalogue, as `problem.<type>`."""

OTHER = "problem.other"
"""Any other type: "it is not in the right form", never pydantic's English."""

SLUG_PATTERN: str = get_args(Service)[1].pattern
"""The pattern of a service (and of a delivery channel): a lower-case slug."""

KEYS: frozenset[str] = frozenset(
    {f"problem.{kind}" for kind in WORDED}
    | {"problem.string_empty", "problem.too_short_one", "problem.slug", "problem.word_or", OTHER,
       "problem.toml_invalid"}
)
"""Every catalogue key `problem_words` reads, and the words for a file that is not TOML."""

_CONTEXT = (
    "min_length", "max_length", "ge", "gt", "le", "lt", "pattern",
    "offset", "value", "names", "channel",
)
"""The parts of pydantic's context the catalogue's texts name, besides `expected`."""


def problem_words(detail: ErrorDetails) -> str:
    """What is wrong with one field, in the chosen language: fills `problem` in invalid_field."""
    kind = detail["type"]
    ctx: dict[str, Any] = detail.get("ctx") or {}
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        key = "problem.string_empty"
    elif kind == "too_short" and ctx.get("min_length") == 1:
        key = "problem.too_short_one"
    elif kind == "string_pattern_mismatch" and ctx.get("pattern") == SLUG_PATTERN:
        key = "problem.slug"
    else:
        key = f"problem.{kind}" if kind in WORDED else OTHER
    params = {name: ctx[name] for name in _CONTEXT if name in ctx}
    if "expected" in ctx:
        params["expected"] = _choices(str(ctx["expected"]))
    return text(key, **params)


def _choices(expected: str) -> str:
    """Pydantic's `'a', 'b' or 'c'` as `a, b or c` in the chosen language."""
    items = [item.strip("'\"") for item in re.split(r", | or ", expected)]
    if len(items) == 1:
        return items[0]
    return f"{', '.join(items[:-1])} {text('problem.word_or')} {items[-1]}"
