"""Fuzzing what comes from outside: an import file and `bti record … --json` never crash the
ledger and never store part of what they were given."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from ledger.application import CaseLedger
from ledger.cli import build_app
from ledger.errors import LedgerError
from ledger.events import CaseEvent, event_to_json
from ledger.events.examples import all_examples
from ledger.transfer import MAX_LINE_BYTES, NumberedLine, import_events
from tests.cast import RECTOR, START, TILSYN, SetClock

EXAMPLE_LINES = [orjson.loads(event_to_json(e)) for e in all_examples() if isinstance(e, CaseEvent)]
FUZZ = settings(
    max_examples=30, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


@st.composite
def mutated_event(draw: st.DrawFn) -> bytes:
    """An example event's JSON with a field removed, replaced or added, or raw bytes."""
    kind = draw(st.sampled_from(["drop", "replace", "add", "raw", "as_is"]))
    if kind == "raw":
        return draw(st.binary(max_size=200)).replace(b"\n", b" ")
    values: dict[str, Any] = dict(draw(st.sampled_from(EXAMPLE_LINES)))
    if kind == "drop":
        values.pop(draw(st.sampled_from(sorted(values))))
    elif kind == "replace":
        values[draw(st.sampled_from(sorted(values)))] = draw(json_values)
    elif kind == "add":
        values[draw(st.text(min_size=1, max_size=12))] = draw(json_values)
    return json.dumps(values, ensure_ascii=False).encode()  # big integers too


def event_count(ledger: CaseLedger) -> int:
    return len(ledger.store.recorder.select_notifications(start=1, limit=1_000_000))


def numbered(lines: list[bytes]) -> Iterator[NumberedLine]:
    for number, line in enumerate(lines, start=1):
        yield number, line if len(line) <= MAX_LINE_BYTES else None, len(line)


@pytest.fixture
def fuzz_ledger(tmp_path: Path) -> Iterator[CaseLedger]:
    """A SQLite ledger whose clock stands after every example event (they are from 2026)."""
    clock = SetClock(START.replace(year=2037))
    url = f"sqlite:///{tmp_path / 'fuzz.sqlite'}"
    with CaseLedger.create(url, rulebook="default", actor=RECTOR, clock=clock, reader=TILSYN) as it:
        yield it


@FUZZ
@given(lines=st.lists(mutated_event(), min_size=1, max_size=6))
def test_an_import_is_stored_whole_or_refused_whole_never_a_crash(
    fuzz_ledger: CaseLedger, lines: list[bytes]
) -> None:
    before = event_count(fuzz_ledger)
    try:
        report = import_events(fuzz_ledger, numbered(lines))
    except LedgerError:  # ImportRejected for bad lines, ConcurrencyConflict, …
        assert event_count(fuzz_ledger) == before
        return
    assert event_count(fuzz_ledger) == before + report.stored


@FUZZ
@given(values=st.dictionaries(
    st.sampled_from(["child_ref", "child_birth_date", "unit", "service", "noticed_at",
                     "observations", "national_id", "tracks", "case_id", "occurred_at",
                     "actor", "violence_suspected", "action", "event_id", "x"]),
    json_values, max_size=8,
) | json_values.map(lambda v: {"_raw": v}))
def test_bti_record_json_input_exits_cleanly_and_stores_all_or_nothing(
    fuzz_ledger: CaseLedger, values: dict[str, Any]
) -> None:
    given_json = json.dumps(values.get("_raw", values), ensure_ascii=False)
    before = event_count(fuzz_ledger)
    url = f"sqlite:///{fuzz_ledger.store.env.get('SQLITE_DBNAME')}"
    result = CliRunner().invoke(
        build_app(), ["--db", url, "record", "register-undring", "--json", given_json,
                      "--as-person", "Kari Lærer", "--as-service", "skole",
                      "--as-unit", "Fossen skole"],
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    assert result.exit_code in (0, 1), result.output
    assert event_count(fuzz_ledger) == before + (1 if result.exit_code == 0 else 0)
