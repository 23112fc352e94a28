"""A projection follower killed at random moments while writers keep recording.

The story of a municipality's server: writers record with inline projections off, and
`bti project --follow` keeps the read models. The follower is killed (SIGKILL: no clean-up,
no finally) again and again, mid-batch or between batches, and started again. Since every
batch writes its rows and moves its position in one transaction, the read models must end
exactly where a rebuild from the whole log puts them: nothing skipped, nothing applied twice.

Set BTI_CRASH_SEED to replay one run's random choices.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from ledger.application import CaseLedger
from ledger.errors import LedgerError
from ledger.events.ledger import LEDGER_ID
from tests.cast import RECTOR, SPECIAL_TEACHER, TEACHER, TILSYN

pytestmark = pytest.mark.slow

REPOSITORY = Path(__file__).resolve().parent.parent
KILLS = (5, 8)
"""How many times the follower is killed (a random number in this range)."""
BATCH_SIZE = 4
"""Small batches: many transactions, so a kill often lands inside one."""
PAUSE = 0.003
"""Between a writer's actions: enough events to follow, few enough to check quickly."""
MIN_EVENTS = 60
"""The writer must have stored at least this many events for the story to mean anything."""


def follower_command(url: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "ledger.cli", "--db", url, "project",
            "--batch-size", str(BATCH_SIZE), *args]


def start_follower(url: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        follower_command(url, "--follow", "--interval", "0.05"), cwd=REPOSITORY,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


class Writer(threading.Thread):
    """Records a random mix of actions on a handful of cases until told to stop."""

    def __init__(self, url: str, rng: random.Random) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.rng = rng
        self.stop = threading.Event()
        self.opened = threading.Event()
        self.only_new_cases = False
        """At the end: only new undringer, so each case has one event a later one cannot mend."""
        self.stored = 0
        self.failure: BaseException | None = None
        self.cases: list[UUID] = []

    def run(self) -> None:
        try:
            with CaseLedger.open(self.url, inline_projections=False, reader=TILSYN) as ledger:
                self.opened.set()
                while not self.stop.is_set():
                    self.act(ledger)
        except BaseException as error:  # reported by the test, not lost in the thread
            self.failure = error
            self.opened.set()

    def act(self, ledger: CaseLedger) -> None:
        time.sleep(PAUSE)
        if len(self.cases) < 3 or self.only_new_cases or self.rng.random() < 0.3:
            noticed = datetime.now(UTC) - timedelta(days=self.rng.choice([0, 1, 9]))
            event = ledger.register_undring(
                actor=TEACHER, child_ref=f"Elev-{len(self.cases)}",
                child_birth_date="2014-05-01", unit="Fossen skole", service="skole",
                noticed_at=noticed, observations="Trekker seg unna.",
                tracks=self.rng.choice([[], ["skolemiljo"]]),
            )
            self.cases.append(event.case_id)
            self.stored += 1
            return
        case_id = self.rng.choice(self.cases)
        action = self.rng.choice(list(ACTIONS))
        try:
            ACTIONS[action](ledger, case_id)
        except LedgerError:
            return  # refused by a rule (the case is closed, no handover pending …): fine
        self.stored += 1


def _soon() -> datetime:
    return datetime.now(UTC) + timedelta(days=2)


ACTIONS: dict[str, Callable[[CaseLedger, UUID], Any]] = {
    "share": lambda ledger, case: ledger.share_with_leader(
        case, actor=TEACHER, leader=RECTOR.person, how="samtale"),
    "invite": lambda ledger, case: ledger.invite_to_samtale(
        case, actor=TEACHER, with_whom=["guardians"], planned_at=_soon()),
    "bright_spot": lambda ledger, case: ledger.log_bright_spot(
        case, actor=TEACHER, observation="Lekte med de andre i dag."),
    "flag": lambda ledger, case: ledger.flag_track(
        case, actor=RECTOR, flag="skolemiljo", reason="Eleven sier hun ikke har det trygt."),
    "propose": lambda ledger, case: ledger.propose_handover(
        case, actor=RECTOR, to_person=SPECIAL_TEACHER.person, to_service="skole"),
    "accept": lambda ledger, case: ledger.accept_handover(case, actor=SPECIAL_TEACHER),
    "close": lambda ledger, case: ledger.close_case(
        case, actor=RECTOR, reason="Ingen videre bekymring", closing_note="Går bra nå."),
    "reopen": lambda ledger, case: ledger.reopen_case(
        case, actor=RECTOR, reason="Ny uro i klassen."),
}


def dump(ledger: CaseLedger) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every projection's tables, in a stable order."""
    db = ledger.read_models.db
    runner = ledger.read_models.runner
    rows: dict[str, list[tuple[Any, ...]]] = {}
    with db.transaction() as cursor:
        for projection in runner.projections.values():
            for table in projection.tables:
                cursor.execute(f"SELECT * FROM {db.table('bti_' + table)}")
                rows[table] = sorted(cursor.fetchall(), key=repr)
    return rows


def stream_lengths(ledger: CaseLedger) -> dict[UUID, int]:
    """How many events each case's stream holds, counted in the events table."""
    db = ledger.read_models.db
    with db.transaction() as cursor:
        cursor.execute(
            f"SELECT originator_id, COUNT(*) FROM {db.events_table} "
            "WHERE originator_id <> %s GROUP BY originator_id",
            (db.stream_key(LEDGER_ID),),
        )
        rows = cursor.fetchall()
    return {key if isinstance(key, UUID) else UUID(str(key)): int(n) for key, n in rows}


def live_positions(ledger: CaseLedger) -> dict[str, int]:
    runner = ledger.read_models.runner
    positions = runner.positions()
    return {name: positions[name] for name in runner.projections}


def wait_for_position(ledger: CaseLedger, target: int, follower: subprocess.Popen[bytes]) -> None:
    """Until the follower has brought every projection to `target` or beyond."""
    deadline = time.monotonic() + 20
    while min(live_positions(ledger).values()) < target:
        assert follower.poll() is None, "the follower ended by itself"
        assert time.monotonic() < deadline, "the follower made no progress"
        time.sleep(0.005)


def run_and_kill(url: str, watcher: CaseLedger, rng: random.Random, *, at_work: bool) -> None:
    """Start a follower and SIGKILL it: at a random moment after its first batch (mid-batch,
    between batches, idle), or at any moment of its first second and a half (perhaps while
    it starts up)."""
    since = min(live_positions(watcher).values())
    follower = start_follower(url)
    try:
        if at_work:
            wait_for_position(watcher, since + 1, follower)
            time.sleep(rng.uniform(0, 0.2))
        else:
            time.sleep(rng.uniform(0.1, 1.5))
    finally:
        follower.kill()
        follower.wait()


def kill_inside_backlog(url: str, watcher: CaseLedger, rng: random.Random) -> None:
    """Start a follower and SIGKILL it as it passes a random position of the unfollowed log."""
    since = min(live_positions(watcher).values())
    head = watcher.read_models.db.max_position()
    if head - since < 2:
        return
    follower = start_follower(url)
    try:
        wait_for_position(watcher, rng.randint(since + 1, head - 1), follower)
    finally:
        follower.kill()
        follower.wait()


def test_a_follower_killed_at_random_moments_neither_skips_nor_repeats_an_event(
    database_url: str,
) -> None:
    seed = int(os.environ.get("BTI_CRASH_SEED") or random.randrange(2**32))
    print(f"BTI_CRASH_SEED={seed}")
    rng = random.Random(seed)
    with CaseLedger.create(database_url, rulebook="default", actor=RECTOR, reader=TILSYN):
        pass
    writer = Writer(database_url, random.Random(rng.random()))
    kills = rng.randint(*KILLS)
    with CaseLedger.open(database_url, inline_projections=False, reader=TILSYN) as watcher:
        live_positions(watcher)  # its tables are set up before anyone else opens
        # One process opens the store at a time: concurrent opens are not this story.
        writer.start()
        assert writer.opened.wait(timeout=30)
        # While the writer records: killed at work or starting, down a while, restarted.
        for _ in range(kills - 2):
            run_and_kill(database_url, watcher, rng, at_work=rng.random() < 0.8)
            time.sleep(rng.uniform(0, 0.4))
        # The writer's last second goes unfollowed and brings only new cases, then it stops.
        # The last two followers are killed inside that backlog, where each case has one
        # event: no later event would mend a row a broken follower lost.
        writer.only_new_cases = True
        time.sleep(1.0)
        writer.stop.set()
        writer.join(timeout=30)
        for _ in range(2):
            kill_inside_backlog(database_url, watcher, rng)
    assert writer.failure is None, writer.failure
    assert writer.stored >= MIN_EVENTS, f"only {writer.stored} events were stored"

    final = subprocess.run(
        follower_command(database_url), cwd=REPOSITORY, capture_output=True, text=True,
        timeout=60, check=False,
    )
    assert final.returncode == 0, final.stderr

    with CaseLedger.open(database_url, inline_projections=False, reader=TILSYN) as ledger:
        head = ledger.read_models.db.max_position()
        print(f"{kills} kills, {writer.stored} events on {len(writer.cases)} cases, head {head}")
        assert live_positions(ledger) == dict.fromkeys(ledger.read_models.runner.projections, head)
        followed = dump(ledger)
        # Nothing skipped: each case's summary counts every event of its stream.
        stored = stream_lengths(ledger)
        assert set(stored) == set(writer.cases)
        counted = {s.case_id: s.events for s in ledger.read_models.cases(datetime.now(UTC))}
        assert counted == stored
        ledger.read_models.runner.rebuild()
        assert dump(ledger) == followed
        assert live_positions(ledger) == dict.fromkeys(ledger.read_models.runner.projections, head)
