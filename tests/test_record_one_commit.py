"""Stories of recording an action: its event and the projections' rows go in one commit.

The projections follow the event inside the save's own transaction when they stand right
before it; a projection that fails there is undone and the event stored all the same, and
projections that were behind (a follower's, another writer's) are caught up after the
commit, as before. Whatever the path, the rows equal a rebuild from the log.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.sqlite import SQLiteConnection, SQLiteConnectionPool
from psycopg._connection_base import BaseConnection
from psycopg.sql import SQL

import ledger.chain as ledger_chain
from ledger.application import CaseLedger
from ledger.events import CaseEvent
from ledger.policies.identity import with_check_digits
from tests.cast import RECTOR, START, TEACHER, TILSYN, SetClock
from tests.stories import register_undring
from tests.test_projections import dump

LIVE = ("access", "case_summary", "deadlines", "stafett")


def live_positions(ledger: CaseLedger) -> dict[str, int]:
    return {n: p for n, p in ledger.read_models.runner.positions().items() if n in LIVE}


def at_head(ledger: CaseLedger) -> bool:
    """Every live projection has applied every event stored."""
    head = ledger.read_models.db.max_position()
    return set(live_positions(ledger).values()) == {head}


def share(ledger: CaseLedger, case: UUID, clock: SetClock) -> CaseEvent:
    """Kari tells the rector about the undring (000 N0 T2)."""
    clock.advance(hours=1)
    return ledger.share_with_leader(case, actor=TEACHER, leader=RECTOR.person, how="samtale")


def bright_spot(ledger: CaseLedger, case: UUID, clock: SetClock) -> CaseEvent:
    clock.advance(hours=1)
    return ledger.log_bright_spot(case, actor=TEACHER, observation="Lo i friminuttet.")


def equals_a_rebuild(ledger: CaseLedger) -> bool:
    kept = dump(ledger)
    ledger.read_models.runner.rebuild()
    return dump(ledger) == kept


@pytest.fixture
def catch_ups(ledger: CaseLedger, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many events each catch-up after a save applied (the path of two commits)."""
    applied: list[int] = []
    catch_up = ledger.read_models.catch_up

    def counted() -> int:
        applied.append(catch_up())
        return applied[-1]

    monkeypatch.setattr(ledger.read_models, "catch_up", counted)
    return applied


def test_a_shared_undring_is_in_every_projection_at_the_head_without_a_catch_up_after_the_save(
    ledger: CaseLedger, clock: SetClock, catch_ups: list[int]
) -> None:
    case = register_undring(ledger, clock)
    share(ledger, case, clock)
    assert catch_ups == []
    assert at_head(ledger)
    summary = ledger.read_models.summary(case, clock.now)
    assert summary is not None and summary.events == 2
    assert {d.rule for d in ledger.deadlines(case_id=case)} >= {"decision_level0"}
    assert equals_a_rebuild(ledger)


@pytest.fixture
def commits(database_url: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every COMMIT sent to the database from now on: on SQLite as its trace shows them
    (on the connections opened from now on), on PostgreSQL as psycopg sends them."""
    seen: list[str] = []
    if database_url.startswith("sqlite"):
        create = SQLiteConnectionPool._create_connection

        def traced(pool: SQLiteConnectionPool) -> SQLiteConnection:
            connection = create(pool)
            connection._sqlite_conn.set_trace_callback(
                lambda statement: seen.append(statement) if statement == "COMMIT" else None
            )
            return connection

        monkeypatch.setattr(SQLiteConnectionPool, "_create_connection", traced)
        return seen
    send = BaseConnection._exec_command

    def sent(connection: Any, command: Any, *args: Any) -> Any:
        # Every COMMIT psycopg sends goes through here: a transaction block's and commit()'s.
        if command == b"COMMIT":
            seen.append("COMMIT")
        return send(connection, command, *args)

    monkeypatch.setattr(BaseConnection, "_exec_command", sent)
    return seen


def test_recording_an_action_on_a_case_commits_once(
    database_url: str, clock: SetClock, commits: list[str]
) -> None:
    with CaseLedger.create(database_url, actor=RECTOR, clock=clock, reader=TILSYN) as ledger:
        case = register_undring(ledger, clock)
        share(ledger, case, clock)  # the process's first save sets the projections' tables up
        commits.clear()
        bright_spot(ledger, case, clock)
        assert commits == ["COMMIT"]
        assert at_head(ledger)


NATIONAL_ID = with_check_digits("150514" + "490")


def register_with_national_id(ledger: CaseLedger, clock: SetClock,
                              case_id: UUID | None = None) -> UUID:
    """Kari registers an undring about a child whose fødselsnummer she gives."""
    return ledger.register_undring(
        case_id=case_id, actor=TEACHER, child_ref="Elev-12", child_birth_date="2014-05-15",
        unit=TEACHER.unit, service=TEACHER.service, noticed_at=clock.now - timedelta(hours=1),
        observations="Sover i timene.", national_id=NATIONAL_ID,
    ).case_id


def key_rows(ledger: CaseLedger, case: UUID) -> int:
    keys = ledger.store.case_keys
    with ledger.read_models.db.transaction() as cursor:
        cursor.execute(f"SELECT COUNT(*) AS n FROM {keys.keys_table} WHERE case_id = %s",
                       (str(case),))
        row = cursor.fetchone()
    return int(row["n"] if isinstance(row, dict) else row[0])  # type: ignore[index]


def test_registering_an_undring_stores_the_new_case_key_and_lookup_in_the_same_commit(
    database_url: str, clock: SetClock, commits: list[str]
) -> None:
    with CaseLedger.create(database_url, actor=RECTOR, clock=clock, reader=TILSYN) as ledger:
        share(ledger, register_undring(ledger, clock), clock)  # the tables are set up
        commits.clear()
        case = register_with_national_id(ledger, clock)
        assert commits == ["COMMIT"]
        assert key_rows(ledger, case) == 1
        assert NATIONAL_ID is not None and ledger.find_case_by_national_id(NATIONAL_ID) == [case]
        assert ledger.summary(case).child_ref == "Elev-12"  # sealed with the key stored


def test_a_registration_that_fails_leaves_no_key_and_the_case_id_can_be_used_again(
    ledger: CaseLedger, clock: SetClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = UUID("7d9f3c1e-0b8a-4c55-9a1e-2f6b8d4c0a11")

    def disk_full(*args: Any) -> Any:
        raise RuntimeError("the disk is full")

    with monkeypatch.context() as failing:
        failing.setattr(ledger_chain, "chain_links", disk_full)  # after the key and the event
        with pytest.raises(RuntimeError, match="disk is full"):
            register_with_national_id(ledger, clock, case_id=case)
    assert key_rows(ledger, case) == 0
    assert not any(getattr(e, "case_id", None) == case for e in ledger.all_events())
    assert NATIONAL_ID is not None and ledger.find_case_by_national_id(NATIONAL_ID) == []

    assert register_with_national_id(ledger, clock, case_id=case) == case
    assert key_rows(ledger, case) == 1
    assert ledger.summary(case).child_ref == "Elev-12"
    # Not the key of the save that failed: a fresh process reads the case with the stored one.
    ledger.store.case_keys.forget([case])
    assert ledger.history(case)[0].child_ref == "Elev-12"  # type: ignore[attr-defined]


def test_a_projection_failing_inside_the_save_still_stores_the_event_and_the_next_catch_up_repairs_it(
    ledger: CaseLedger, clock: SetClock, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    case = register_undring(ledger, clock)
    before, tracked = dump(ledger), live_positions(ledger)
    stafett = ledger.read_models.runner.projections["stafett"]

    def broken(*args: Any) -> Any:
        raise RuntimeError("the stafett projection is broken")

    monkeypatch.setattr(stafett, "rows", broken)
    with caplog.at_level(logging.ERROR):
        shared = share(ledger, case, clock)
    assert "the work within a save failed and was undone" in caplog.text
    assert ledger.history(case)[-1] == shared  # stored, once
    assert [e.event_id for e in ledger.all_events()].count(shared.event_id) == 1
    assert live_positions(ledger) == tracked  # no projection moved without its rows
    assert dump(ledger) == before

    monkeypatch.undo()
    assert ledger.read_models.catch_up() == 1
    assert at_head(ledger)
    assert ledger.read_models.summary(case, clock.now).events == 2  # type: ignore[union-attr]
    assert equals_a_rebuild(ledger)


def test_a_writer_finding_the_projections_behind_catches_them_up_after_its_commit(
    ledger: CaseLedger, clock: SetClock, database_url: str, catch_ups: list[int]
) -> None:
    case = register_undring(ledger, clock)
    # A server set-up's writer leaves the projections to `bti project --follow`.
    with CaseLedger.open(
        database_url, clock=clock, inline_projections=False, reader=TILSYN
    ) as served:
        share(served, case, clock)
    assert not at_head(ledger)
    bright_spot(ledger, case, clock)
    assert catch_ups == [2]  # its own event and the one before it, after the commit
    assert at_head(ledger)
    assert equals_a_rebuild(ledger)


def test_two_writers_taking_turns_on_one_case_keep_the_projections_equal_to_a_rebuild(
    ledger: CaseLedger, clock: SetClock, reopen: Callable[[], CaseLedger],
    catch_ups: list[int],
) -> None:
    other = reopen()
    case = register_undring(ledger, clock)
    for writer in (other, ledger, other, other, ledger, ledger):
        bright_spot(writer, case, clock)  # each writer's memory of the case is behind by turns
        assert at_head(ledger)
    assert catch_ups == []
    assert ledger.read_models.summary(case, clock.now).events == 7  # type: ignore[union-attr]
    assert equals_a_rebuild(ledger)


@pytest.fixture
def failing_after_the_projections(ledger: CaseLedger) -> Iterator[list[bool]]:
    """Once armed, the next save fails after the projections were brought past its events
    in memory (as a lost disk or connection would at the COMMIT): nothing of it is stored."""
    recorder: Any = ledger.store.recorder
    within_savepoint = recorder._within_savepoint
    armed = [False]

    def then_fail(*args: Any) -> None:
        within_savepoint(*args)
        if armed[0]:
            armed[0] = False
            raise RuntimeError("the disk went away")

    recorder._within_savepoint = then_fail
    yield armed
    recorder._within_savepoint = within_savepoint


def test_a_save_that_fails_after_the_projections_folded_its_event_leaves_no_trace_of_it(
    ledger: CaseLedger, clock: SetClock, reopen: Callable[[], CaseLedger],
    failing_after_the_projections: list[bool],
) -> None:
    case = register_undring(ledger, clock)
    failing_after_the_projections[0] = True
    with pytest.raises(RuntimeError, match="the disk went away"):
        bright_spot(ledger, case, clock)
    assert len(ledger.history(case)) == 1
    # Another writer stores a different second event; this one then records a third.
    share(reopen(), case, clock)
    bright_spot(ledger, case, clock)
    assert at_head(ledger)
    summary = ledger.read_models.summary(case, clock.now)
    assert summary is not None and summary.events == 3
    assert equals_a_rebuild(ledger)


def test_a_ledger_created_from_nothing_has_its_projections_at_its_first_event(
    database_url: str,
) -> None:
    clock = SetClock(START)
    with CaseLedger.create(database_url, actor=RECTOR, clock=clock, reader=TILSYN) as ledger:
        assert at_head(ledger)
        assert ledger.read_models.db.max_position() >= 1


def test_sqlite3_reports_each_commit_to_the_trace(tmp_path: Any) -> None:
    """What the commit count above rests on: the library's commit() shows as COMMIT."""
    seen: list[str] = []
    raw = sqlite3.connect(tmp_path / "trace.sqlite", isolation_level=None)
    raw.set_trace_callback(seen.append)
    raw.execute("CREATE TABLE t (x)")
    raw.execute("BEGIN")
    raw.execute("INSERT INTO t VALUES (1)")
    raw.commit()
    raw.close()
    assert seen.count("COMMIT") == 1


def test_on_postgresql_a_refused_chain_row_fails_the_save_and_is_never_taken_for_a_projection_failure(
    postgres_url: str, clock: SetClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    with CaseLedger.create(postgres_url, actor=RECTOR, clock=clock, reader=TILSYN) as ledger:
        case = register_undring(ledger, clock)
        # The chain rows' INSERT fails on the server, its answer still on its way in the
        # pipeline when the projections' work begins.
        refused = SQL(
            "SELECT 1 / (cardinality(%b::bigint[]) - cardinality(%b::uuid[])), %b::bigint[], "
            "%b::text[], %b::bytea[], %b::bytea[], %b::bytea[]"
        )
        monkeypatch.setattr(ledger.store.recorder, "_insert_links_statement", refused)
        with pytest.raises(Exception, match="division by zero"):
            share(ledger, case, clock)
        monkeypatch.undo()
        assert len(ledger.history(case)) == 1  # refused as a whole: nothing stored
        assert at_head(ledger)
