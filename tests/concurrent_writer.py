"""One process of the concurrency stories: it waits for a starting shot, acts, and reports.

Run from the repository root, in one of two ways:

    python -m tests.concurrent_writer record URL PLAN RESULTS
    python -m tests.concurrent_writer open|create RESULTS

`record`: opens the ledger at URL (a fresh application, as a second user's process would),
prints `ready` and waits for one line on stdin, so that every writer starts at the same
moment. Then it runs PLAN's commands in order (a JSON file: {"commands": [{"method",
"case_id", "actor", "fields", "event_id"?}]}), each with the machine's clock, `occurred_at`
a minute in the past and its own event_id (uuid4) unless the plan gives one.

`open` / `create`: in rounds, prints `ready`, reads a database URL from stdin (an empty line
ends it) and opens the ledger there, or creates one there, at the same moment as the others.

Either way it writes one JSON line per command or round to RESULTS: `accepted` (with the
stored sequence) / `opened` / `created`, `refused` with the ledger's error code, or `error`
with whatever escaped the ledger, which the tests treat as a bug: a user must only ever
see a LedgerError.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from ledger.application import CaseLedger, system_clock
from ledger.errors import LedgerError
from tests.cast import RECTOR, TILSYN

OCCURRED_AGO = timedelta(minutes=1)
"""How long before the writer records an action it says the action happened."""


def outcome_of(act: Callable[[], str | int], result: dict[str, Any]) -> dict[str, Any]:
    """Run `act` and say how it ended: its success, the ledger's refusal, or an escaped error."""
    try:
        success = act()
    except LedgerError as refusal:
        result.update(outcome="refused", code=refusal.code)
    except Exception as error:
        result.update(
            outcome="error",
            error=f"{type(error).__module__}.{type(error).__qualname__}: {error}",
            traceback=traceback.format_exc(),
        )
    else:
        if isinstance(success, int):
            result.update(outcome="accepted", sequence=success)
        else:
            result.update(outcome=success)
    return result


def run_command(ledger: CaseLedger, command: dict[str, Any]) -> dict[str, Any]:
    """Record one planned command; what happened to it, as one result line."""
    method = command["method"]
    if method.startswith("_") or not callable(getattr(CaseLedger, method, None)):
        raise ValueError(f"not an action of the ledger: {method}")
    event_id = UUID(command["event_id"]) if command.get("event_id") else uuid4()

    def record() -> int:
        event = getattr(ledger, method)(
            command["case_id"],
            actor=command["actor"],
            occurred_at=system_clock() - OCCURRED_AGO,
            event_id=event_id,
            **command.get("fields", {}),
        )
        sequence: int = event.sequence
        return sequence

    return outcome_of(
        record, {"method": method, "case_id": command["case_id"], "event_id": str(event_id)}
    )


def open_once(mode: str, url: str) -> dict[str, Any]:
    """Open the ledger at `url`, or create one there; one result line."""

    def act() -> str:
        if mode == "create":
            CaseLedger.create(url, actor=RECTOR, reader=TILSYN).close()
            return "created"
        CaseLedger.open(url, reader=TILSYN).close()
        return "opened"

    return outcome_of(act, {"method": mode, "url": url})


def main(argv: list[str]) -> int:
    mode, *arguments = argv
    if mode == "record":
        url, plan_path, results_path = arguments
        commands = json.loads(Path(plan_path).read_text())["commands"]
        with CaseLedger.open(url, reader=TILSYN) as ledger, Path(results_path).open("w") as results:
            print("ready", flush=True)
            sys.stdin.readline()  # the starting shot: every writer got here first
            for command in commands:
                results.write(json.dumps(run_command(ledger, command)) + "\n")
                results.flush()
        return 0
    if mode in ("open", "create"):
        (results_path,) = arguments
        with Path(results_path).open("w") as results:
            while True:
                print("ready", flush=True)
                url = sys.stdin.readline().strip()
                if not url:
                    return 0
                results.write(json.dumps(open_once(mode, url)) + "\n")
                results.flush()
    raise SystemExit(f"unknown mode {mode!r}: record, open or create")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
