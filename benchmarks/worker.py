"""One measured operation in a process of its own: `python -m benchmarks.worker OP PARAMS_JSON`.

Each operation runs in a fresh process so that its peak RSS (read by the parent from the
child's own rusage) is that operation's alone, and so that no cache of one measurement
helps the next. The operation times itself (interpreter start-up and imports are not in
the figure) and prints one JSON line with what it measured.

With BENCH_PROFILE=path/prefix set, the operation runs under pyinstrument and its profile
is written to prefix.txt and prefix.html.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from benchmarks import floor, naive
from benchmarks.generate import as_command


class MovableClock:
    """The ledger's clock, set by the benchmark to each command's recorded time."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def events_of(path: str) -> Iterator[dict[str, Any]]:
    with open(path, "rb") as lines:
        for line in lines:
            yield orjson.loads(line)


# ---- the project -------------------------------------------------------------------------


def op_import(p: dict[str, Any]) -> dict[str, Any]:
    from ledger.store import open_store
    from ledger.transfer import import_into, read_lines

    store = open_store(p["url"])
    files = p["jsonl"] if isinstance(p["jsonl"], list) else [p["jsonl"]]
    began = time.perf_counter()
    stored = 0
    for path in files:  # one file after the other, each all or nothing
        stored += import_into(store, moment(p["now"]), read_lines(path)).stored
    imports = len(files)
    seconds = time.perf_counter() - began
    store.close()
    return {"events": stored, "imports": imports, "seconds": seconds}


def op_replay(p: dict[str, Any]) -> dict[str, Any]:
    from ledger.application import CaseLedger

    with CaseLedger.open(p["url"], clock=MovableClock(moment(p["now"]))) as ledger:
        began = time.perf_counter()
        count = 0
        for _event in ledger.all_events():
            count += 1
        seconds = time.perf_counter() - began
    return {"events": count, "seconds": seconds}


def op_rebuild(p: dict[str, Any]) -> dict[str, Any]:
    from ledger.application import CaseLedger

    clock = MovableClock(moment(p["now"]))
    with CaseLedger.open(p["url"], clock=clock, inline_projections=False) as ledger:
        runner = ledger.read_models.runner
        began = time.perf_counter()
        count = runner.rebuild()
        seconds = time.perf_counter() - began
    # The row makers are this process's only children: their peak is the largest of them
    # (RUSAGE_CHILDREN, nothing if the rebuild started none), so the rebuild's memory is
    # ours plus that once per worker.
    mb_worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"events": count, "seconds": seconds,
            "workers": runner.rebuild_workers if mb_worker else 0,
            "mb_self": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "mb_worker": mb_worker}


def wait_for_start(barrier: str | None, writer: int) -> None:
    """Say ready, then wait for the parent's starting shot (a file), so writers start together."""
    if not barrier:
        return
    Path(barrier, f"ready-{writer}").touch()
    go = Path(barrier, "go")
    while not go.exists():
        time.sleep(0.001)


def op_record(p: dict[str, Any]) -> dict[str, Any]:
    """Record the commands of this writer's cases one at a time, projections kept up to date."""
    from ledger.application import CaseLedger
    from ledger.errors import LedgerError

    writer, writers = p.get("writer", 0), p.get("writers", 1)
    commands = [
        e for e in events_of(p["commands"])
        if int(e["case_id"][:8], 16) % writers == writer
    ]
    clock = MovableClock(moment(p["now"]))
    times, refused = [], []
    inline = p.get("inline", True)
    with CaseLedger.open(p["url"], clock=clock, inline_projections=inline) as ledger:
        ledger.project()  # start from projections at the head, as a running server would
        wait_for_start(p.get("barrier"), writer)
        began = time.perf_counter()
        for values in commands:
            action, case_id, kwargs = as_command(values)
            clock.now = moment(values["recorded_at"])
            started = time.perf_counter()
            try:
                ledger.record(action, case_id, **kwargs)
            except LedgerError as error:
                refused.append(f"{values['type']}: {error.code}")
            times.append((time.perf_counter() - started) * 1000)
        seconds = time.perf_counter() - began
    return {"ms": times, "seconds": seconds, "refused": refused[:20], "refusals": len(refused)}


def op_follow(p: dict[str, Any]) -> dict[str, Any]:
    """Keep the projections following the log (as `bti project --follow`) until told to stop."""
    from ledger.application import CaseLedger

    stop = Path(p["stop"])
    applied = 0
    with CaseLedger.open(p["url"], clock=MovableClock(moment(p["now"])),
                         inline_projections=False) as ledger:
        began = time.perf_counter()
        while not stop.exists():
            count = ledger.read_models.catch_up()
            applied += count
            if count == 0:
                time.sleep(0.01)
        told = time.perf_counter()
        applied += ledger.read_models.catch_up()
        finished = time.perf_counter()
    return {"events": applied, "seconds": finished - began, "lag_seconds": finished - told}


READER = {"person": "Benchmark Tilsyn", "role": "tilsyn", "service": "statsforvalteren",
          "unit": "Statsforvalteren"}
"""Reads every case (each `case show` is checked and written to the access log, as in use)."""


PURPOSE = "oppfølging"
"""Why the benchmark's readers read (the read audit keeps it with every read)."""


def op_case_show(p: dict[str, Any]) -> dict[str, Any]:
    """`case show` as each case's own teacher asks for it (a checked, logged read)."""
    from ledger.application import CaseLedger

    with CaseLedger.open(p["url"], clock=MovableClock(moment(p["now"]))) as ledger:
        readers = p["readers"]
        ledger.reading_as(readers[0], PURPOSE).summary(p["case_ids"][0])  # connections warm

        def show(case_id: str, reader: dict[str, str]) -> Callable[[], Any]:
            return lambda: ledger.reading_as(reader, PURPOSE).summary(case_id)

        times = floor.timed([show(c, r) for c, r in zip(p["case_ids"], readers, strict=True)])
    return {"ms": times}


def deadline_kwargs(query: dict[str, Any]) -> dict[str, Any]:
    kwargs = {k: v for k, v in query.items() if k not in ("due_within_days", "reader")}
    if query.get("due_within_days") is not None:
        kwargs["due_within"] = timedelta(days=query["due_within_days"])
    return kwargs


def op_deadlines(p: dict[str, Any]) -> dict[str, Any]:
    """Each deadline query as the person who would ask it (leader, holder, teacher)."""
    from ledger.application import CaseLedger

    rows: list[int] = []
    with CaseLedger.open(p["url"], clock=MovableClock(moment(p["now"]))) as ledger:
        first = p["queries"][0]
        ledger.reading_as(first["reader"], PURPOSE).deadlines(**deadline_kwargs(first))

        def call(query: dict[str, Any]) -> Callable[[], None]:
            kwargs = deadline_kwargs(query)
            return lambda: rows.append(
                len(ledger.reading_as(query["reader"], PURPOSE).deadlines(**kwargs)))

        times = floor.timed([call(q) for q in p["queries"]])
        wide_rows: list[int] = []
        tilsyn = ledger.reading_as(p["tilsyn"], PURPOSE)
        wide = floor.timed([lambda: wide_rows.append(
            len(tilsyn.deadlines(due_within=timedelta(days=2))))] * p.get("wide", 3))
    return {"ms": times, "rows": rows, "wide_ms": wide, "wide_rows": wide_rows}


def op_queries(p: dict[str, Any]) -> dict[str, Any]:
    """`case show` for every sampled case, then the deadline queries."""
    return {"case_show": op_case_show(p), "deadlines": op_deadlines(p)}


# ---- the floor and the naive way -----------------------------------------------------------


def op_floor_latency(p: dict[str, Any]) -> dict[str, Any]:
    """The floors of recording one action, of `case show` and of the deadline queries."""
    return {
        "record": floor.record(p["floor_url"], p["samples"]),
        "case_show": floor.case_show(p["url"], p["case_ids"]),
        "deadlines": floor.deadlines(p["url"], p["queries"], p["now_text"], p["soon_texts"]),
    }


def op_naive(p: dict[str, Any]) -> dict[str, Any]:
    """The naive way, each measure in turn (none of them needs its own process)."""
    return {
        "load": naive.load(p["url"], Path(p["jsonl"])),
        "replay": naive.replay(p["url"]),
        "get": naive.get(p["url"], p["case_ids"]),
        "record": naive.record(p["url"], Path(p["commands"]), p["limit"]),
        "runner": naive.runner(p["url"], p["view_url"], p["budget_seconds"]),
    }


OPS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "import": op_import,
    "replay": op_replay,
    "rebuild": op_rebuild,
    "record": op_record,
    "queries": op_queries,
    "follow": op_follow,
    "floor-insert": lambda p: floor.insert(p["url"], Path(p["jsonl"])),
    "floor-scan": lambda p: floor.scan(p["url"], p["table"]),
    "floor-models": lambda p: floor.models(p["url"]),
    "floor-latency": op_floor_latency,
    "naive": op_naive,
}


def main(argv: list[str]) -> None:
    op, given = argv[0], argv[1]
    # Large parameters (the sampled readers and queries) come in a file: `@path`.
    params = json.loads(Path(given[1:]).read_text() if given.startswith("@") else given)
    profile = os.environ.get("BENCH_PROFILE")
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.002)
        profiler.start()
        result = OPS[op](params)
        profiler.stop()
        Path(profile + ".txt").write_text(profiler.output_text(show_all=False))
        Path(profile + ".html").write_text(profiler.output_html())
    else:
        result = OPS[op](params)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
