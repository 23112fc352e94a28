"""One benchmark run: the floor, the naive way and the project, measured side by side.

Every operation runs in a process of its own (`benchmarks.worker`), so its peak RSS is its
own: the parent reads the child's rusage when it reaps it (`os.wait4`, the per-child form of
`getrusage(RUSAGE_CHILDREN)`). Every project figure is printed next to the floor it is
divided by, measured minutes before on the same machine, and the target from issue 7.

Commands colleagues are still writing (`bti verify`, `bti report stats`, `bti daemon
--once`) are found by looking at the `bti` command itself; until they exist their rows say
"not available yet". They run as the CLI, and their figure is the wall time less the CLI's
own start-up (measured in the same run).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from benchmarks.floor import Raw
from benchmarks.generate import (
    CaseStory,
    GenerationReport,
    Municipality,
    Scenario,
    calibrate,
    iter_case_events,
    now_of,
    write_jsonl,
)

REPOSITORY = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get("BTI_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")

PHASES = ("floor", "naive", "import", "replay", "rebuild", "record", "case_show", "deadlines",
          "verify", "stats", "daemon")
NEEDS_FLOOR = {
    "import": ["floor.insert"], "replay": ["floor.scan"], "rebuild": ["floor.scan"],
    "verify": ["floor.scan"], "stats": ["floor.scan"], "naive": ["floor.scan"],
    "record": ["floor.record"], "case_show": ["floor.case_show"],
    "deadlines": ["floor.deadlines"],
}
NEEDS_PROJECTIONS = {"record", "case_show", "deadlines", "daemon", "floor"}

VERIFY_COMMAND = ("verify",)
STATS_COMMAND = ("report", "stats")
DAEMON_COMMAND = ("daemon", "--once")


# ---- sizes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    """How big the municipality is and how many samples each latency gets."""

    cases: int = 10_000
    events_per_case: float = 10.0
    open_share: float = 0.8
    seed: int = 7
    record_commands: int = 1000
    latency_samples: int = 1000
    naive_get_samples: int = 1000
    naive_record_commands: int = 300
    naive_runner_seconds: float = 15.0
    floor_record_samples: int = 300
    cli_timeout: float = 3600.0
    daemon_timeout: float = 3600.0
    """A first tick at a million events issues 207,000 reminders: 731 s on a fast hour, more
    than 1,200 s on a slow one."""
    import_parts: int = 1
    """Files the municipality is imported from, split by case (a national migration's way)."""

    @classmethod
    def tiny(cls) -> Sizes:
        return cls(cases=40, events_per_case=8.0, record_commands=40, latency_samples=40,
                   naive_get_samples=40, naive_record_commands=30, naive_runner_seconds=0.5,
                   floor_record_samples=30, cli_timeout=120.0, daemon_timeout=120.0)


# ---- running children ----------------------------------------------------------------------


@dataclass
class Child:
    """What one child process did: exit code, its output, wall time, its own peak RSS."""

    returncode: int
    stdout: bytes
    stderr: str
    wall: float
    maxrss_mb: float

    def result(self) -> dict[str, Any]:
        if self.returncode != 0:
            raise RuntimeError(f"child failed ({self.returncode}): {self.stderr[-3000:]}")
        return dict(json.loads(self.stdout.decode().strip().splitlines()[-1]))


LAUNCHER = (
    "import resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[2:])\n"
    "with open(sys.argv[1], 'w') as out:\n"
    "    out.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\n"
    "sys.exit(code)\n"
)
"""Runs one operation as its only child and writes that child's peak RSS (kB) to a file.

A child's `ru_maxrss` counts the memory of the process it was forked from (Linux keeps the
high-water mark across exec), so the operation is started from this small launcher (a bare
`python -S`, ~10 MB) rather than from the benchmark process, which may hold hundreds of MB
after generating a municipality. With one child, `RUSAGE_CHILDREN` is that child's own peak.
"""


@dataclass
class Running:
    """A launched operation: the launcher process and where its output and RSS go."""

    proc: subprocess.Popen[bytes]
    out: Any
    err: Any
    rss_file: Path
    began: float


def spawn(cmd: Sequence[str], env: dict[str, str] | None = None) -> Running:
    # Closed by `reap`, which reads them once the child is gone.
    out = tempfile.TemporaryFile()  # noqa: SIM115
    err = tempfile.TemporaryFile()  # noqa: SIM115
    fd, rss_name = tempfile.mkstemp(prefix="bti-bench-rss-")
    os.close(fd)
    launcher = [sys.executable, "-S", "-c", LAUNCHER, rss_name, *cmd]
    began = time.perf_counter()
    proc = subprocess.Popen(launcher, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                            cwd=REPOSITORY, env={**os.environ, **(env or {})},
                            start_new_session=True)
    return Running(proc, out, err, Path(rss_name), began)


def reap(running: Running, timeout: float | None) -> Child:
    """Wait for the operation (killing its process group, ours, if it overruns)."""
    proc = running.proc
    killed = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the launcher's own group: it and its child
        proc.wait()
        killed = True
    wall = time.perf_counter() - running.began
    running.out.seek(0)
    running.err.seek(0)
    stdout, stderr = running.out.read(), running.err.read().decode(errors="replace")
    running.out.close()
    running.err.close()
    try:
        maxrss_kb = float(running.rss_file.read_text() or "nan")
    except (OSError, ValueError):
        maxrss_kb = math.nan
    running.rss_file.unlink(missing_ok=True)
    if killed:
        stderr += f"\nkilled after {timeout:.0f} s"
    return Child(-9 if killed else proc.returncode, stdout, stderr[-8000:], wall,
                 maxrss_kb / 1024)


def run(cmd: Sequence[str], timeout: float | None = None, env: dict[str, str] | None = None) -> Child:
    return reap(spawn(cmd, env), timeout)


def worker(op: str, params: dict[str, Any], profile: Path | None = None,
           timeout: float | None = None) -> Child:
    env = {"BENCH_PROFILE": str(profile / op)} if profile else None
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="bti-bench-") as given:
        json.dump(params, given)
        given.flush()
        return run([sys.executable, "-m", "benchmarks.worker", op, f"@{given.name}"],
                   timeout, env)


def bti(url: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "ledger.cli", "--db", url, *args]


# ---- statistics and formatting ---------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0–100)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def latency(values: Sequence[float]) -> dict[str, float]:
    return {"p50": percentile(values, 50), "p99": percentile(values, 99),
            "mean": statistics.fmean(values) if values else math.nan, "n": len(values)}


def rate(result: dict[str, Any]) -> float:
    return result["events"] / result["seconds"] if result["seconds"] > 0 else math.nan


def fmt_rate(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "—"
    return f"{value / 1000:,.1f}k ev/s" if value >= 1000 else f"{value:,.0f} ev/s"


def fmt_ms(stats: dict[str, float] | None) -> str:
    if not stats:
        return "—"
    return f"p50 {stats['p50']:.2f} · p99 {stats['p99']:.2f} ms"


def fmt_ratio(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "—"
    return f"{value:.2f}×" if value < 10 else f"{value:.0f}×"


# ---- the table ---------------------------------------------------------------------------------


@dataclass
class Row:
    name: str
    what: str
    value: str
    floor: str = ""
    ratio: str = ""
    target: str = ""
    met: str = ""


MEASURES: tuple[tuple[str, str], ...] = (
    ("floor.insert", "floor: raw batched insert of the same rows (orjson parse + executemany)"),
    ("floor.scan", "floor: raw sequential scan, orjson decode of every row"),
    ("floor.models", "pydantic alone: the same rows in clear, model_validate_json each"),
    ("floor.record", "floor: one row inserted and committed"),
    ("floor.case_show", "floor: raw SELECT of the summary row + orjson"),
    ("floor.deadlines", "floor: raw SELECT of the same deadline rows + orjson"),
    ("naive.load", "naive: events.put, 10k events per transaction (1k on PostgreSQL; fills its store)"),
    ("naive.replay", "naive: notification log section by section, default transcoder"),
    ("naive.get", "naive: one repository.get per case"),
    ("naive.record", "naive: one command = repository.get + method + save"),
    ("naive.runner", "naive: projection runner, one event per transaction"),
    ("import", "import (bulk): validate every line and every rule, store in one transaction"),
    ("record", "record one action, projections included (1 writer)"),
    ("record.4", "record one action, projections included (4 writer processes)"),
    ("record.4f", "record one action, 4 writers, projections kept by one follower process"),
    ("replay", "replay: read and decode every event to its model"),
    ("rebuild", "rebuild all projections"),
    ("verify", "bti verify over the whole ledger"),
    ("stats", "bti report stats"),
    ("case_show", "case show (ledger.summary)"),
    ("deadlines", "deadline query with filters (unit / holder / window / overdue / case)"),
    ("deadlines.wide", "deadline query, whole municipality, due within 2 days"),
    ("daemon.first", "daemon tick, first (issues the reminders already due)"),
    ("daemon.tick", "daemon tick over the open cases (steady state)"),
    ("rss.import", "peak RSS of import"),
    ("rss.replay", "peak RSS of replay"),
    ("rss.rebuild", "peak RSS of rebuild"),
    ("rss.verify", "peak RSS of verify"),
    ("rss.stats", "peak RSS of stats"),
)
WHAT = dict(MEASURES)
POSTGRES_ONLY = frozenset({"record.4", "record.4f"})


def measure_names(postgres: bool = False) -> list[str]:
    """Every measure a full run prints (on SQLite; PostgreSQL adds `record.4`)."""
    return [name for name, _ in MEASURES if postgres or name not in POSTGRES_ONLY]


def verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("yes" if ok else "**no**")


ROW_SPECS: tuple[tuple[str, str, str | None, float | None], ...] = (
    # (measure, "rate" or "ms", the floor it is divided by, target: ratio or p99 ms)
    ("floor.insert", "rate", None, None),
    ("floor.scan", "rate", None, None),
    ("floor.models", "rate", "floor.scan", None),
    ("floor.record", "ms", None, None),
    ("floor.case_show", "ms", None, None),
    ("floor.deadlines", "ms", None, None),
    ("naive.load", "rate", "floor.insert", None),
    ("naive.replay", "rate", "floor.scan", None),
    ("naive.get", "ms", None, None),
    ("naive.record", "ms", "floor.record", None),
    ("naive.runner", "rate", "floor.scan", None),
    ("import", "rate", "floor.insert", 0.40),
    ("record", "ms", "floor.record", 5.0),  # 10 ms on PostgreSQL
    ("record.4", "ms", "floor.record", 10.0),
    ("record.4f", "ms", "floor.record", 10.0),
    ("replay", "rate", "floor.scan", 0.35),
    ("rebuild", "rate", "floor.scan", 0.20),
    ("verify", "rate", "floor.scan", 0.30),
    ("stats", "rate", "floor.scan", None),
    ("case_show", "ms", "floor.case_show", 2.0),
    ("deadlines", "ms", "floor.deadlines", 20.0),
    ("deadlines.wide", "ms", None, None),
)


def unmeasured_row(name: str, got: dict[str, Any], wanted: str, judged: bool) -> Row | None:
    """The row of a measure that has no value: not available yet, or its phase failed (a
    failure misses the target, if the measure has one)."""
    if got.get("unavailable"):
        return Row(name, WHAT[name], "not available yet", target=wanted, met="—")
    if got.get("failed"):
        return Row(name, WHAT[name], f"failed: {got['failed']}", target=wanted,
                   met="**no**" if judged else "—")
    return None


def throughput_row(m: dict[str, Any], name: str, floor_name: str | None,
                   target: float | None) -> Row:
    got = m[name]
    wanted = "" if target is None else f"≥ {target:.2f}× floor"
    unmeasured = unmeasured_row(name, got, wanted, judged=True)
    if unmeasured is not None:
        return unmeasured
    value = got["rate"]
    base = m.get(floor_name, {}).get("rate") if floor_name else None
    ratio = value / base if base else None
    ok = None if target is None or ratio is None or got.get("unjudged") else ratio >= target
    note = f" ({got['note']})" if got.get("note") else ""
    row = Row(name, WHAT[name] + note, fmt_rate(value), fmt_rate(base), fmt_ratio(ratio), wanted,
              verdict(ok))
    naive_rate = m.get("naive.runner", {}).get("rate")
    models_rate = m.get("floor.models", {}).get("rate")
    if name == "replay" and models_rate:
        row.ratio += f" ({value / models_rate:.2f}× pydantic alone)"
    if name == "rebuild":
        row.target += " and ≥ 10× naive runner"
        if naive_rate:
            times = value / naive_rate
            row.ratio += f" ({times:.1f}× naive runner)"
            if row.met == "yes" and times < 10:
                row.met = "**no**"
    return row


def latency_row(m: dict[str, Any], name: str, floor_name: str | None,
                limit: float | None) -> Row:
    got = m[name]
    wanted = "" if limit is None else f"p99 < {limit:g} ms"
    unmeasured = unmeasured_row(name, got, wanted, judged=limit is not None)
    if unmeasured is not None:
        return unmeasured
    base = m.get(floor_name, {}) if floor_name else {}
    if "p50" not in base:
        base = {}  # the floor's own phase failed: no ratio
    ratio = base["p50"] / got["p50"] if base.get("p50") and got.get("p50") else None
    note = f" ({got['note']})" if got.get("note") else ""
    return Row(name, WHAT[name] + note, fmt_ms(got), fmt_ms(base or None), fmt_ratio(ratio),
               wanted, verdict(None if limit is None else got["p99"] < limit))


def build_rows(m: dict[str, Any], postgres: bool) -> list[Row]:
    """The table from the measurements `m` (missing ones are skipped, unavailable said so)."""
    rows: list[Row] = []
    for name, kind, floor_name, target in ROW_SPECS:
        if name not in m:
            continue
        limit = 10.0 if name == "record" and postgres else target
        if kind == "rate":
            rows.append(throughput_row(m, name, floor_name, limit))
        else:
            rows.append(latency_row(m, name, floor_name, limit))
    return rows + daemon_rows(m) + rss_rows(m)


def daemon_rows(m: dict[str, Any]) -> list[Row]:
    rows = []
    for name in ("daemon.first", "daemon.tick"):
        if name not in m:
            continue
        got = m[name]
        target = "< 2 s" if name == "daemon.tick" else ""
        if got.get("unavailable"):
            rows.append(Row(name, WHAT[name], "not available yet", target=target, met="—"))
        elif got.get("failed"):
            rows.append(Row(name, WHAT[name], f"failed: {got['failed']}", target=target,
                            met="**no**"))
        else:
            ok = got["seconds"] < 2.0 if name == "daemon.tick" else None
            rows.append(Row(name, f"{WHAT[name]} ({got.get('reminders', '?')} reminders issued, "
                            f"{got.get('events', '?')} events recorded, "
                            f"{got.get('open_cases', '?')} open cases)",
                            f"{got['seconds']:.2f} s (wall {got['wall']:.2f} s less start-up)",
                            target=target, met=verdict(ok)))
    return rows


def rss_of(result: dict[str, Any], maxrss_mb: float) -> dict[str, Any]:
    """An operation's peak memory: with worker processes (a rebuild's row makers), its own
    plus the largest worker's once per worker, all alive at once."""
    workers = int(result.get("workers", 0))
    if not workers:
        return {"mb": maxrss_mb}
    own, each = float(result["mb_self"]), float(result["mb_worker"])
    return {"mb": own + workers * each,
            "detail": f"this process {own:.0f} MB + {workers} workers ≤ {each:.0f} MB each"}


def rss_rows(m: dict[str, Any]) -> list[Row]:
    rows = []
    for name in ("rss.import", "rss.replay", "rss.rebuild", "rss.verify", "rss.stats"):
        if name not in m:
            continue
        got = m[name]
        limited = name in ("rss.rebuild", "rss.verify", "rss.stats")
        target = "< 300 MB" if limited else ""
        if got.get("unavailable"):
            rows.append(Row(name, WHAT[name], "not available yet", target=target, met="—"))
            continue
        detail = f" ({got['detail']})" if got.get("detail") else ""
        rows.append(Row(name, WHAT[name], f"{got['mb']:.0f} MB{detail}", target=target,
                        met=verdict(got["mb"] < 300 if limited else None)))
    return rows


def table(rows: list[Row]) -> str:
    header = "| measure | what | value | floor | vs floor | target | met? |"
    lines = [header, "|---|---|---|---|---|---|---|"]
    lines += [f"| {r.name} | {r.what} | {r.value} | {r.floor} | {r.ratio} | {r.target} | {r.met} |"
              for r in rows]
    return "\n".join(lines)


# ---- one database's run ------------------------------------------------------------------------


@dataclass
class Dataset:
    scenario: Scenario
    jsonl: Path
    parts: list[Path]
    report: GenerationReport
    rate: float
    interactive: Path
    interactive_4: Path
    interactive_4f: Path
    sample: Sample


@dataclass
class Sample:
    """A seeded sample of the municipality's cases: ids, units, their teacher and leader."""

    case_ids: list[str]
    units: list[str]
    staff: list[dict[str, str]]
    leaders: list[dict[str, str]]


def sample_cases(scenario: Scenario, rounds_rate: float, n: int) -> Sample:
    town = Municipality(scenario.cases)
    rng = random.Random(scenario.seed + 99)
    first = scenario.first_case
    indices = [rng.randrange(first, first + scenario.cases) for _ in range(n)]
    stories = [CaseStory(town, scenario, i, rounds_rate) for i in indices]
    return Sample([s.case_id for s in stories], [s.unit.name for s in stories],
                  [s.staff for s in stories], [s.leader for s in stories])


def write_commands(path: Path, scenario: Scenario, rounds_rate: float, limit: int) -> int:
    """The first `limit` events of fresh cases, in recorded order, as commands to record."""
    count = 0
    with open(path, "wb") as out:
        for event in iter_case_events(scenario, rounds_rate):
            if count >= limit:
                break
            out.write(orjson.dumps(event) + b"\n")
            count += 1
    return count


def prepare(workdir: Path, sizes: Sizes, say: Callable[[str], None]) -> Dataset:
    scenario = Scenario(cases=sizes.cases, events_per_case=sizes.events_per_case,
                        seed=sizes.seed, open_share=sizes.open_share)
    jsonl = workdir / "municipality.jsonl"
    say(f"generating {sizes.cases} cases (~{sizes.events_per_case:g} events each) → {jsonl}")
    report = write_jsonl(jsonl, scenario)
    say(f"  {report.events} events, {report.open_cases} open cases, "
        f"{report.bytes / 1e6:.0f} MB in {report.seconds:.1f} s")
    parts = split_by_case(jsonl, sizes.import_parts) if sizes.import_parts > 1 else [jsonl]
    fresh = Scenario(cases=max(4, sizes.record_commands // 3), seed=sizes.seed, now=scenario.now,
                     open_share=1.0, open_window_days=60, first_case=10_000_000,
                     events_per_case=sizes.events_per_case)
    fresh_4 = Scenario(**{**asdict(fresh), "first_case": 20_000_000})
    fresh_4f = Scenario(**{**asdict(fresh), "first_case": 30_000_000})
    fresh_rate = calibrate(fresh, sample=min(400, max(60, fresh.cases)))
    interactive, interactive_4 = workdir / "interactive.jsonl", workdir / "interactive-4.jsonl"
    write_commands(interactive, fresh, fresh_rate, sizes.record_commands)
    write_commands(interactive_4, fresh_4, fresh_rate, sizes.record_commands)
    interactive_4f = workdir / "interactive-4f.jsonl"
    write_commands(interactive_4f, fresh_4f, fresh_rate, sizes.record_commands)
    sample = sample_cases(scenario, report.rounds_rate, sizes.latency_samples)
    return Dataset(scenario, jsonl, parts, report, report.rounds_rate, interactive,
                   interactive_4, interactive_4f, sample)


def split_by_case(jsonl: Path, parts: int) -> list[Path]:
    """The file cut into `parts` files by case, each in the file's order; the ledger's own
    lines (the rulebook) go first into the first part, so each file imports after the last."""
    paths = [jsonl.with_suffix(f".part-{k + 1}.jsonl") for k in range(parts)]
    with contextlib.ExitStack() as files, open(jsonl, "rb") as lines:
        outs = [files.enter_context(open(path, "wb")) for path in paths]
        for line in lines:
            case_id = orjson.loads(line).get("case_id")
            outs[uuid.UUID(case_id).int % parts if case_id else 0].write(line)
    return paths


def deadline_queries(data: Dataset, n: int) -> list[dict[str, Any]]:
    """A mix of the queries people ask, each with who asks it: a leader for their unit (all,
    due soon, overdue), a holder for their own list, a teacher for one case."""
    sample = data.sample
    queries: list[dict[str, Any]] = []
    for i in range(n):
        j = i % len(sample.case_ids)
        unit, leader, staff = sample.units[j], sample.leaders[j], sample.staff[j]
        kind = i % 5
        if kind == 0:
            queries.append({"unit": unit, "reader": leader})
        elif kind == 1:
            queries.append({"holder": staff["person"], "reader": staff})
        elif kind == 2:
            queries.append({"unit": unit, "due_within_days": 14, "reader": leader})
        elif kind == 3:
            queries.append({"unit": unit, "overdue": True, "reader": leader})
        else:
            queries.append({"case_id": sample.case_ids[j], "include_closed": True,
                            "reader": staff})
    return queries


TILSYN = {"person": "Tone Tilsyn", "role": "tilsyn", "service": "statsforvalteren",
          "unit": "Statsforvalteren"}
COORDINATOR = {"person": "Randi Vik", "role": "coordinator", "service": "kommune",
               "unit": "Oppvekst"}
BENCH_MASTER_KEY = "YmVuY2htYXJrcyBvbmx5OiBub3QgYSByZWFsIGtleSE="
"""The master key of the benchmark's ledgers (32 bytes, base64): never a real one."""


def cli_env() -> dict[str, str]:
    """The `bti` command's reader for the commands that read: the municipality's coordinator."""
    return {"BTI_PERSON": COORDINATOR["person"], "BTI_ROLE": COORDINATOR["role"],
            "BTI_SERVICE": COORDINATOR["service"], "BTI_UNIT": COORDINATOR["unit"],
            "BTI_PURPOSE": "statistikk"}


class DatabaseRun:
    """Everything measured on one database (a SQLite file or a PostgreSQL schema)."""

    def __init__(self, kind: str, url: str, naive_url: str, view_url: str, floor_url: str,
                 data: Dataset, sizes: Sizes, phases: set[str], profile: Path | None,
                 say: Callable[[str], None]) -> None:
        self.kind, self.url, self.naive_url, self.view_url = kind, url, naive_url, view_url
        self.floor_url = floor_url
        self.data, self.sizes, self.phases, self.profile, self.say = data, sizes, phases, profile, say
        self.m: dict[str, Any] = {}
        self.checkpoint: Callable[[], None] = lambda: None
        """Called before each operation, so a run that fails later keeps what it measured."""
        self.now_text = now_of(data.scenario).isoformat()
        self._events_table: str | None = None

    @property
    def events_table(self) -> str:
        """The event store's table, as the store names it (opening it creates it)."""
        if self._events_table is None:
            from ledger.store import open_store

            store = open_store(self.url)
            self._events_table = str(store.recorder.events_table_name)  # type: ignore[attr-defined]
            store.close()
        return self._events_table

    def wanted(self, *names: str) -> bool:
        return any(n in self.phases for n in names)

    def floor_wanted(self, name: str) -> bool:
        if "floor" in self.phases:
            return True
        return any(name in NEEDS_FLOOR.get(p, []) for p in self.phases)

    def child(self, op: str, params: dict[str, Any], timeout: float | None = None) -> Child:
        self.say(f"  [{self.kind}] {op}")
        self.checkpoint()
        profile = None
        if self.profile is not None:
            profile = self.profile / self.kind
            profile.mkdir(parents=True, exist_ok=True)
        return worker(op, params, profile, timeout or self.sizes.cli_timeout)

    def run(self) -> dict[str, Any]:
        """Every wanted phase in turn; a phase that fails is reported and the run goes on."""
        m, data = self.m, self.data
        jsonl = str(data.jsonl)
        if self.floor_wanted("floor.insert"):
            self.guarded(["floor.insert"], lambda: m.update({"floor.insert": self.rate_of(
                self.child("floor-insert", {"url": self.floor_url, "jsonl": jsonl}))}))
        needs_import = bool(self.phases - {"naive"}) or self.floor_wanted("floor.scan")
        if needs_import and not self.guarded(["import", "rss.import"], self.import_phase):
            return m  # nothing else means anything without the ledger
        if self.floor_wanted("floor.scan"):
            self.guarded(["floor.scan"], lambda: m.update({"floor.scan": self.rate_of(self.child(
                "floor-scan", {"url": self.url, "table": self.events_table}))}))
        if self.wanted("replay"):
            if self.floor_wanted("floor.insert") and self.kind == "sqlite":
                self.guarded(["floor.models"], lambda: m.update({"floor.models": self.rate_of(
                    self.child("floor-models", {"url": self.floor_url}))}))
            self.guarded(["replay", "rss.replay"], lambda: self.operation("replay"))
        if self.wanted("naive"):
            self.guarded(["naive.load", "naive.replay", "naive.get", "naive.record",
                          "naive.runner"], self.naive)
        needs_rebuild = self.wanted("rebuild") or bool(self.phases & NEEDS_PROJECTIONS)
        if needs_rebuild and not self.guarded(["rebuild", "rss.rebuild"],
                                              lambda: self.operation("rebuild")):
            return m  # the queries below need the projections
        queries = deadline_queries(data, self.sizes.latency_samples)
        self.guarded(["floor.record", "floor.case_show", "floor.deadlines"],
                     lambda: self.latency_floors(queries))
        if self.wanted("record"):
            self.guarded(["record"], lambda: m.update({"record": self.record(data.interactive, 1)}))
            if self.kind == "postgres":
                self.guarded(["record.4"], lambda: m.update(
                    {"record.4": self.record(data.interactive_4, 4)}))
                self.guarded(["record.4f"], lambda: m.update(
                    {"record.4f": self.record(data.interactive_4f, 4, inline=False)}))
        if self.wanted("case_show", "deadlines"):
            self.guarded(["case_show", "deadlines", "deadlines.wide"],
                         lambda: self.queries(queries))
        if self.wanted("verify", "stats", "daemon"):
            self.guarded([], self.cli_phases)
        return m

    def guarded(self, names: list[str], action: Callable[[], Any]) -> bool:
        """Run one phase; if it fails, its measures say so (first line of why) and False."""
        try:
            action()
        except Exception as error:  # a failing phase is a result, not the end of the run
            reason = last_line(str(error)) or type(error).__name__
            self.say(f"  [{self.kind}] FAILED {', '.join(names) or 'phase'}: {reason}")
            for name in names:
                self.m[name] = {"failed": reason[:300]}
            return False
        return True

    def import_phase(self) -> None:
        child = self.child("import", {"url": self.url, "now": self.now_text,
                                      "jsonl": [str(part) for part in self.data.parts]})
        self.m["import"] = self.rate_of(child)
        if len(self.data.parts) > 1:
            self.m["import"]["note"] = f"{len(self.data.parts)} files split by case, one after the other"
        self.m["rss.import"] = {"mb": child.maxrss_mb}

    def operation(self, op: str) -> None:
        child = self.child(op, {"url": self.url, "now": self.now_text})
        self.m[op] = got = self.rate_of(child)
        self.m[f"rss.{op}"] = rss_of(got, child.maxrss_mb)

    def latency_floors(self, queries: list[dict[str, Any]]) -> None:
        floors = [n for n in ("floor.record", "floor.case_show", "floor.deadlines")
                  if self.floor_wanted(n)]
        if not floors:
            return
        from ledger.projections.case_summary import utc_text

        now = now_of(self.data.scenario)
        soon = [utc_text(now + timedelta(days=q["due_within_days"])) if "due_within_days" in q
                else "" for q in queries]
        got = self.child("floor-latency", {
            "url": self.url, "floor_url": self.floor_url,
            "samples": self.sizes.floor_record_samples, "case_ids": self.data.sample.case_ids,
            "queries": queries, "now_text": utc_text(now), "soon_texts": soon}).result()
        for name in floors:
            self.m[name] = latency(got[name.split(".", 1)[1]]["ms"])

    def queries(self, queries: list[dict[str, Any]]) -> None:
        got = self.child("queries", {
            "url": self.url, "queries": queries, "now": self.now_text, "tilsyn": TILSYN,
            "case_ids": self.data.sample.case_ids, "readers": self.data.sample.staff}).result()
        if self.wanted("case_show"):
            self.m["case_show"] = latency(got["case_show"]["ms"])
        if self.wanted("deadlines"):
            found = got["deadlines"]
            self.m["deadlines"] = {**latency(found["ms"]),
                                   "note": f"mean {statistics.fmean(found['rows']):.0f} rows"}
            self.m["deadlines.wide"] = {**latency(found["wide_ms"]),
                                        "note": f"{found['wide_rows'][0]} rows"}

    def rate_of(self, child: Child) -> dict[str, Any]:
        result = child.result()
        return {**result, "rate": rate(result), "wall": child.wall}

    def naive(self) -> None:
        m, data, sizes = self.m, self.data, self.sizes
        got = self.child("naive", {
            "url": self.naive_url, "view_url": self.view_url, "jsonl": str(data.jsonl),
            "case_ids": data.sample.case_ids[: sizes.naive_get_samples],
            "commands": str(data.interactive), "limit": sizes.naive_record_commands,
            "budget_seconds": sizes.naive_runner_seconds}).result()
        for name in ("load", "replay", "runner"):
            m[f"naive.{name}"] = {**got[name], "rate": rate(got[name])}
        for name in ("get", "record"):
            m[f"naive.{name}"] = latency(got[name]["ms"])

    def record(self, commands: Path, writers: int, inline: bool = True) -> dict[str, Any]:
        """Writers record their cases at once; each command's latency, and commands/s overall.

        With `inline=False` the writers leave the projections to one follower process (the
        server set-up of ARCHITECTURE.md), which is told to stop when they are done.
        """
        barrier = Path(tempfile.mkdtemp(prefix="bti-bench-barrier-"))
        label = f"{writers} writer{'s' if writers > 1 else ''}" + ("" if inline else " + follower")
        self.say(f"  [{self.kind}] record ({label})")
        follower = None
        if not inline:
            follow = {"url": self.url, "now": self.now_text, "stop": str(barrier / "stop")}
            follower = spawn([sys.executable, "-m", "benchmarks.worker", "follow",
                              json.dumps(follow)])
        children = []
        for writer in range(writers):
            params = {"url": self.url, "commands": str(commands), "now": self.now_text,
                      "writer": writer, "writers": writers, "barrier": str(barrier),
                      "inline": inline}
            env = None
            if self.profile is not None and writer == 0:
                (self.profile / self.kind).mkdir(parents=True, exist_ok=True)
                env = {"BENCH_PROFILE": str(self.profile / self.kind / f"record-{label}")}
            children.append(spawn([sys.executable, "-m", "benchmarks.worker", "record",
                                   json.dumps(params)], env))
        while len(list(barrier.glob("ready-*"))) < writers:
            if any(child.proc.poll() is not None for child in children):
                break
            time.sleep(0.005)
        (barrier / "go").touch()
        results = [reap(child, self.sizes.cli_timeout).result() for child in children]
        lag = ""
        if follower is not None:
            (barrier / "stop").touch()
            followed = reap(follower, self.sizes.cli_timeout).result()
            lag = f", follower at the head {followed['lag_seconds']:.2f} s after the last command"
        shutil.rmtree(barrier, ignore_errors=True)
        times = [t for r in results for t in r["ms"]]
        seconds = max(r["seconds"] for r in results)
        refusals = sum(r["refusals"] for r in results)
        note = f"{len(times)} commands, {len(times) / seconds:.0f}/s overall{lag}"
        if refusals:
            note += f", {refusals} refused: {results[0]['refused'][:3]}"
        return {**latency(times), "note": note, "refusals": refusals}

    # ---- the commands colleagues are writing ---------------------------------------------------

    def count(self, where: str = "") -> int:
        raw = Raw(self.url)
        try:
            row = raw.conn.execute(
                f"SELECT COUNT(*) FROM {self.events_table} {where}").fetchone()
            return int(row[0])
        finally:
            raw.close()

    def open_cases(self) -> int:
        raw = Raw(self.url)
        try:
            row = raw.conn.execute(
                "SELECT COUNT(*) FROM bti_case_summary WHERE status = 'open'").fetchone()
            return int(row[0])
        finally:
            raw.close()

    def cli_phases(self) -> None:
        m = self.m
        startup = cli_startup(1 if self.sizes.cases < 1000 else 3)
        commands = available_commands()
        events = self.count()
        for name, wanted, command in (("verify", "verify", VERIFY_COMMAND),
                                      ("stats", "stats", STATS_COMMAND)):
            if not self.wanted(wanted):
                continue
            if not commands[name]:
                m[name] = {"unavailable": True}
                m[f"rss.{name}"] = {"unavailable": True}
                continue
            self.say(f"  [{self.kind}] bti {' '.join(command)}")
            child = run(bti(self.url, *command), self.sizes.cli_timeout, cli_env())
            if child.returncode != 0:
                m[name] = {"failed": f"exit {child.returncode}: {last_line(child.stderr)}"}
                m[f"rss.{name}"] = {"mb": child.maxrss_mb}
                continue
            seconds = max(1e-3, child.wall - startup)
            m[name] = {"events": events, "seconds": seconds, "rate": events / seconds,
                       "wall": child.wall, "startup": startup}
            if child.wall < 3 * startup:
                # Mostly start-up: the difference of two noisy walls says nothing.
                m[name]["note"] = (f"wall {child.wall:.2f} s, start-up {startup:.2f} s: "
                                   "too short to judge")
                m[name]["unjudged"] = True
            m[f"rss.{name}"] = {"mb": child.maxrss_mb}
        if self.wanted("daemon"):
            if not commands["daemon"]:
                m["daemon.first"] = m["daemon.tick"] = {"unavailable": True}
                return
            open_cases = self.open_cases()
            reminders = "WHERE topic = 'ReminderIssued'"
            now = now_of(self.data.scenario)
            # The first tick at the municipality's `now` issues what history left due; the
            # next one, a daemon interval later, is the steady state.
            for name, at in (("daemon.first", now), ("daemon.tick", now + timedelta(minutes=5))):
                if name == "daemon.tick" and "seconds" not in m.get("daemon.first", {}):
                    m[name] = {"failed": "not measured: the first tick did not finish"}
                    continue
                before, events_before = self.count(reminders), self.count()
                self.say(f"  [{self.kind}] bti daemon --once ({name})")
                daemon_args = list(DAEMON_COMMAND)
                if commands["daemon_now"]:
                    daemon_args += ["--now", at.isoformat()]
                child = run(bti(self.url, *daemon_args), self.sizes.daemon_timeout, cli_env())
                issued = self.count(reminders) - before
                if child.returncode != 0:
                    m[name] = {"failed": f"exit {child.returncode} after {child.wall:.0f} s, "
                                         f"{issued} reminders issued: {last_line(child.stderr)}"}
                    continue
                m[name] = {"seconds": max(1e-3, child.wall - startup), "wall": child.wall,
                           "reminders": issued, "events": self.count() - events_before,
                           "open_cases": open_cases, "mb": child.maxrss_mb}


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


_STARTUP: list[float] = []


def cli_startup(rounds: int = 3) -> float:
    """The `bti` command's own start-up (interpreter, imports, parsing): median of three."""
    if not _STARTUP:
        walls = [run([sys.executable, "-m", "ledger.cli", "--help"], 120, cli_env()).wall
                 for _ in range(rounds)]
        _STARTUP.append(statistics.median(walls))
    return _STARTUP[0]


def available_commands() -> dict[str, bool]:
    """Which of the colleagues' commands the `bti` command has today."""
    import typer.main

    from ledger.cli import build_app

    root = typer.main.get_command(build_app())

    def find(path: Sequence[str], option: str | None = None) -> bool:
        command: Any = root
        for name in path:
            children = getattr(command, "commands", None)
            if not children or name not in children:
                return False
            command = children[name]
        if option is None:
            return True
        return any(option in p.opts for p in command.params)

    return {"verify": find(VERIFY_COMMAND), "stats": find(STATS_COMMAND),
            "daemon": find(DAEMON_COMMAND[:1], DAEMON_COMMAND[1]),
            "daemon_now": find(DAEMON_COMMAND[:1], "--now")}


# ---- PostgreSQL schemas ----------------------------------------------------------------------


def create_schema(base_url: str) -> str:
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    return schema


def drop_schema(base_url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def postgres_version(base_url: str) -> str:
    import psycopg

    with psycopg.connect(base_url, autocommit=True) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"


# ---- the machine -------------------------------------------------------------------------------


def machine(postgres: bool) -> dict[str, str]:
    import eventsourcing
    import pydantic

    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{cpu}, {os.cpu_count()} cores",
        "memory": f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "eventsourcing": getattr(eventsourcing, "__version__", "9.5.6"),
        "pydantic": pydantic.VERSION,
        "orjson": orjson.__version__,
    }
    if postgres:
        info["postgresql"] = postgres_version(POSTGRES_URL)
    return info


# ---- the whole run -------------------------------------------------------------------------------


@dataclass
class Options:
    sizes: Sizes
    postgres: bool = False
    sqlite: bool = True
    only: set[str] = field(default_factory=lambda: set(PHASES))
    workdir: Path | None = None
    keep: bool = False
    profile: bool = False
    json_out: Path | None = None


def main(options: Options) -> int:
    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    # Personal data is sealed at rest: the benchmark's ledgers use a key of their own.
    os.environ.setdefault("BTI_MASTER_KEY", BENCH_MASTER_KEY)
    workdir = options.workdir or Path(tempfile.mkdtemp(prefix="bti-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    profile = workdir / "profiles" if options.profile else None
    began = time.perf_counter()
    info = machine(options.postgres)
    data = prepare(workdir, options.sizes, say)
    results: dict[str, Any] = {"machine": info, "sizes": asdict(options.sizes),
                               "dataset": {"events": data.report.events, "cases": data.report.cases,
                                           "open_cases": data.report.open_cases,
                                           "mb": data.report.bytes / 1e6,
                                           "types": dict(data.report.types),
                                           "generate_seconds": data.report.seconds},
                               "databases": {}}
    schema = None
    try:
        sqlite_run = DatabaseRun(
            "sqlite", f"sqlite:///{workdir / 'ledger.sqlite'}", f"sqlite:///{workdir / 'naive.sqlite'}",
            f"sqlite:///{workdir / 'naive-view.sqlite'}", f"sqlite:///{workdir / 'floor.sqlite'}",
            data, options.sizes, options.only, profile, say)
        partial = workdir / "results-partial.json"

        def keep(run: DatabaseRun) -> Callable[[], None]:
            def write() -> None:
                results["databases"][run.kind] = run.m
                partial.write_text(json.dumps(results, indent=1, default=str))
            return write

        sqlite_run.checkpoint = keep(sqlite_run)
        if options.sqlite:
            results["databases"]["sqlite"] = sqlite_run.run()
            sizes_on_disk = {p.name: p.stat().st_size / 1e6 for p in workdir.glob("*.sqlite")}
            results["dataset"]["sqlite_mb"] = sizes_on_disk
        if options.postgres:
            schema = create_schema(POSTGRES_URL)
            url = f"{POSTGRES_URL}?schema={schema}"
            pg_run = DatabaseRun("postgres", url, url, url, url, data, options.sizes,
                                 options.only, profile, say)
            pg_run.checkpoint = keep(pg_run)
            results["databases"]["postgres"] = pg_run.run()
    finally:
        if schema and not options.keep:
            drop_schema(POSTGRES_URL, schema)
    results["seconds"] = time.perf_counter() - began
    # Written before the report is printed: the numbers must survive a report that fails.
    (workdir / "results.json").write_text(json.dumps(results, indent=1, default=str))
    print_report(results)
    if options.json_out:
        options.json_out.write_text(json.dumps(results, indent=1, default=str))
    if options.keep or options.workdir:
        say(f"kept {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def print_report(results: dict[str, Any]) -> None:
    info, ds = results["machine"], results["dataset"]
    print("# bti-ledger benchmarks")
    print()
    print("  ".join(f"{k}: {v}" for k, v in info.items()))
    print(f"dataset: {ds['events']} events, {ds['cases']} cases ({ds['open_cases']} open), "
          f"{ds['mb']:.0f} MB JSONL; whole run {results['seconds']:.0f} s")
    for kind, m in results["databases"].items():
        print()
        print(f"## {kind}")
        print()
        print(table(build_rows(m, kind == "postgres")))
