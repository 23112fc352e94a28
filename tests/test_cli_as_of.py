"""A tilsyn reader asks what the ledger knew on a date: `case show --as-of`, `deadlines --as-of`."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from tests.test_cli import bti, init
from tests.test_cli_queries import TILSYN_ENV, as_json, register


def show(url: str, case_id: str, *options: str) -> dict[str, Any]:
    found: dict[str, Any] = as_json(bti(url, "case", "show", case_id, "--json", *options, **TILSYN_ENV))
    return found


def test_a_correction_recorded_later_is_not_yet_applied_as_of_a_moment_before_it(
    sqlite_url: str,
) -> None:
    init(sqlite_url)
    case_id = register(sqlite_url, datetime.now(UTC).replace(microsecond=0))
    history = as_json(bti(sqlite_url, "case", "history", case_id, "--json", **TILSYN_ENV))
    undring_id = history[0]["event_id"]
    time.sleep(0.05)
    before_correction = datetime.now(UTC).isoformat()
    time.sleep(0.05)
    fields = json.dumps({"child_ref": "Elev-18"})
    result = bti(sqlite_url, "record", "correct-entry", "--case", case_id, "--corrects",
                 undring_id, "--fields", fields, "--why", "Feil elevnummer")
    assert result.exit_code == 0, result.output
    assert show(sqlite_url, case_id)["child_ref"] == "Elev-18"
    then = show(sqlite_url, case_id, "--as-of", before_correction)
    assert then["child_ref"] == "Elev-17"
    assert then["events"] == 1


def test_deadlines_as_of_a_moment_before_the_undring_was_recorded_are_none(
    sqlite_url: str,
) -> None:
    init(sqlite_url)
    before = datetime.now(UTC).isoformat()
    time.sleep(0.05)
    register(sqlite_url, datetime.now(UTC).replace(microsecond=0))
    now = as_json(bti(sqlite_url, "deadlines", "--json", **TILSYN_ENV))
    then = as_json(bti(sqlite_url, "deadlines", "--json", "--as-of", before, **TILSYN_ENV))
    assert {d["rule"] for d in now} >= {"s12_innkalling", "share_with_leader"}
    assert then == []
