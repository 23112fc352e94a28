"""The benchmark harness keeps working: a tiny run prints every measure, and its data is valid.

Benchmarks are not tests and nothing here times anything (issue 7): the tiny run only shows
that `python -m benchmarks` still runs end to end against today's ledger, and the generated
municipality is checked against the event models and the rules.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from benchmarks.generate import Scenario, as_command, iter_case_events, write_jsonl
from benchmarks.measure import measure_names
from ledger.application import CaseLedger
from ledger.events import EVENT_TYPES, event_to_json
from ledger.store import open_store
from ledger.transfer import export_events, import_into, read_lines
from tests.cast import TILSYN
from tests.conftest import postgres_reachable

REPOSITORY = Path(__file__).resolve().parent.parent
NOW = int(datetime(2026, 3, 2, tzinfo=UTC).timestamp())


def test_a_generated_line_is_an_event_in_its_public_shape_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / "town.jsonl"
    write_jsonl(path, Scenario(cases=150, seed=3, now=NOW))
    lines = path.read_bytes().splitlines()
    assert orjson.loads(lines[0])["type"] == "RulebookAdopted"
    for line in lines:
        event = EVENT_TYPES[orjson.loads(line)["type"]].model_validate_json(line)
        assert event_to_json(event) == line


def test_the_same_scenario_gives_the_same_file(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "a.jsonl", Scenario(cases=60, seed=11, now=NOW))
    write_jsonl(tmp_path / "b.jsonl", Scenario(cases=60, seed=11, now=NOW))
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()


def test_a_generated_municipality_imports_whole_and_exports_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / "town.jsonl"
    report = write_jsonl(path, Scenario(cases=300, seed=5, now=NOW))
    store = open_store(f"sqlite:///{tmp_path / 'bti.sqlite'}")
    try:
        imported = import_into(store, datetime.fromtimestamp(NOW, UTC), read_lines(path))
    finally:
        store.close()
    assert imported.stored == report.events
    assert report.open_cases > 0 and report.open_cases < report.cases
    with CaseLedger.open(f"sqlite:///{tmp_path / 'bti.sqlite'}", reader=TILSYN) as ledger:
        exported = b"".join(line + b"\n" for line in export_events(ledger))
    assert exported == path.read_bytes()


def test_generated_cases_record_through_the_public_api_as_they_were_generated(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bti.sqlite'}"
    scenario = Scenario(cases=30, seed=9, now=NOW, open_share=1.0, open_window_days=60)
    clock_at = [datetime.fromtimestamp(NOW - 90 * 86_400, UTC)]
    actor = {"person": "Randi Vik", "role": "coordinator", "service": "kommune", "unit": "Oppvekst"}
    events = list(iter_case_events(scenario))
    with CaseLedger.create(url, actor=actor, clock=lambda: clock_at[0], reader=TILSYN) as ledger:
        for values in events:
            action, case_id, kwargs = as_command(values)
            clock_at[0] = datetime.fromisoformat(values["recorded_at"])
            stored = ledger.record(action, case_id, **kwargs)
            assert event_to_json(stored) == orjson.dumps(values)


def run_tiny(*extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "benchmarks", "--tiny", *extra],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=300, check=False,
    )


@pytest.mark.slow
def test_the_tiny_benchmark_runs_and_prints_every_measure() -> None:
    postgres = os.environ.get("CI") == "true" and postgres_reachable() is None
    finished = run_tiny(*(["--postgres"] if postgres else []))
    assert finished.returncode == 0, finished.stderr[-4000:]
    for name in measure_names(postgres):
        assert f"| {name} |" in finished.stdout, f"{name} missing from:\n{finished.stdout}"
    assert "## sqlite" in finished.stdout
    if postgres:
        assert "## postgres" in finished.stdout
