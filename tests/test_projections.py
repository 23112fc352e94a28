"""Stories of the read models: they agree with the pure functions and rebuild row for row."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.application import CaseLedger
from ledger.case import Case
from ledger.errors import RuleViolation
from ledger.policies.access import grants
from ledger.policies.calendar import OSLO
from ledger.policies.deadlines import deadlines
from ledger.policies.rulebook import Duration, load_rulebook
from ledger.projections import runner as runner_module
from ledger.projections.case_summary import utc_text
from ledger.projections.open_deadlines import judged_at
from ledger.projections.row_makers import Batch, RowMakers, WorkerFailed
from ledger.projections.runner import REBUILD_TABLE, TRACKING_TABLE, ProjectionRunner
from tests.cast import PPT_ADVISER, RECTOR, TEACHER, TILSYN, SetClock
from tests.test_property_replay import STEPS

TABLES = ("bti_case_summary", "bti_deadlines", "bti_stafett", "bti_access")


def dump(ledger: CaseLedger) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every projection table, in a stable order."""
    db = ledger.read_models.db
    rows: dict[str, list[tuple[Any, ...]]] = {}
    with db.transaction() as cursor:
        for table in TABLES:
            cursor.execute(f"SELECT * FROM {db.table(table)}")
            rows[table] = sorted(cursor.fetchall(), key=repr)
    return rows


def positions(ledger: CaseLedger) -> dict[str, int]:
    return ledger.read_models.runner.positions()


def s12_case_with_ppt(ledger: CaseLedger, clock: SetClock) -> UUID:
    """A § 12-sak: shared, innkalling, consent for PPT, PPT involved, a tiltak planned."""
    case = ledger.register_undring(
        actor=TEACHER, child_ref="Elev-17", child_birth_date="2014-05-01", unit="Fossen skole",
        service="skole", noticed_at=clock.now, observations="Står alene i friminuttene.",
        tracks=["skolemiljo"],
    ).case_id
    clock.advance(hours=2)
    ledger.share_with_leader(case, actor=TEACHER, leader=RECTOR.person, how="samtale")
    clock.advance(days=3)
    ledger.invite_to_samtale(
        case, actor=TEACHER, with_whom=["guardians"], planned_at=clock.now + timedelta(days=2)
    )
    ledger.give_consent(
        case, actor=TEACHER, given_by="guardians", services=["ppt"], purpose="Vurdering",
        information="Undringsnotat", valid_until=(clock.now + timedelta(days=30)).date(),
    )
    ledger.involve_service(case, actor=TEACHER, service="ppt", contact=PPT_ADVISER.person)
    ledger.plan_tiltak(
        case, actor=TEACHER, description="Fast voksen i storefri", goal="Trygge friminutt",
        problem="Alene i friminuttene", responsible=TEACHER.person,
        starts_at=clock.now.date(), evaluate_by=(clock.now + timedelta(days=21)).date(),
    )
    return case


def test_the_deadline_projection_answers_as_the_pure_function_does_at_any_later_time(
    ledger: CaseLedger, clock: SetClock
) -> None:
    case = s12_case_with_ppt(ledger, clock)
    history = ledger.history(case)
    for days in (0, 3, 10, 25, 60):
        clock.advance(days=days)
        pure = [judged_at(d, clock.now) for d in deadlines(history, ledger.rulebook, clock.now)]
        projected = ledger.deadlines(case_id=case, include_closed=True)
        assert sorted(projected, key=lambda d: d.deadline_id) == sorted(pure, key=lambda d: d.deadline_id)
        assert {d.state for d in pure} == {d.state for d in deadlines(history, ledger.rulebook, clock.now)}


def test_a_leader_lists_the_deadlines_of_the_next_fortnight_for_the_school_and_overdue_ones(
    ledger: CaseLedger, clock: SetClock
) -> None:
    case = s12_case_with_ppt(ledger, clock)
    next_fortnight = ledger.deadlines(due_within=timedelta(days=14), unit="Fossen skole")
    assert {d.rule for d in next_fortnight} == {"decision_level0"}
    assert all(d.case_id == case and d.state == "open" for d in next_fortnight)
    clock.advance(days=20)
    overdue = ledger.deadlines(overdue=True)
    assert [d.rule for d in overdue] == ["decision_level0", "samtale_with_guardians"]
    assert [d.state for d in overdue] == ["missed", "missed"]
    assert ledger.deadlines(unit="Solsiden barnehage") == []


def test_a_stafettholder_sees_the_cases_they_hold_and_a_handover_waiting_for_them(
    ledger: CaseLedger, clock: SetClock
) -> None:
    case = s12_case_with_ppt(ledger, clock)
    [held] = ledger.stafett(TEACHER.person)
    assert (held.case_id, held.holder, held.pending_to) == (case, TEACHER.person, None)
    assert held.child_ref == "Elev-17"  # sealed in its row, opened for the reader
    clock.advance(hours=1)
    ledger.propose_handover(case, actor=RECTOR, to_person=PPT_ADVISER.person, to_service="ppt")
    # Until accepted the old holder keeps the baton; the new one sees it waiting.
    [waiting] = ledger.stafett(PPT_ADVISER.person)
    assert (waiting.holder, waiting.pending_to) == (TEACHER.person, PPT_ADVISER.person)
    assert ledger.summary(case).holder == TEACHER.person
    clock.advance(hours=1)
    ledger.accept_handover(case, actor=PPT_ADVISER)
    assert [r.holder for r in ledger.stafett(PPT_ADVISER.person)] == [PPT_ADVISER.person]
    assert ledger.stafett(TEACHER.person) == []


def test_a_closed_case_leaves_the_stafett_list_and_its_open_deadlines_are_cancelled(
    ledger: CaseLedger, clock: SetClock
) -> None:
    case = s12_case_with_ppt(ledger, clock)
    clock.advance(days=1)
    ledger.close_case(case, actor=RECTOR, reason="Flyttet", closing_note="Eleven har flyttet.")
    assert ledger.stafett() == []
    assert ledger.deadlines(case_id=case) == []
    states = {d.rule: d.state for d in ledger.deadlines(case_id=case, include_closed=True)}
    assert states["decision_level0"] == "cancelled"
    assert ledger.list_cases(status="closed")[0].case_id == case


def test_an_expired_consent_shows_in_the_summary_without_any_new_event(
    ledger: CaseLedger, clock: SetClock
) -> None:
    case = s12_case_with_ppt(ledger, clock)
    assert ledger.summary(case).services_relying_on_lost_consent == ()
    clock.advance(days=45)
    summary = ledger.summary(case)
    assert summary.consents_in_force == ()
    assert summary.services_relying_on_lost_consent == ("ppt",)


def test_a_rebuild_equals_the_projections_kept_command_by_command(
    ledger: CaseLedger, clock: SetClock
) -> None:
    for _ in range(3):
        s12_case_with_ppt(ledger, clock)
    before, tracked = dump(ledger), positions(ledger)
    seen: list[int] = []
    ledger.read_models.runner.rebuild(progress=seen.append)
    assert dump(ledger) == before
    assert positions(ledger) == tracked
    assert sum(seen) == tracked["deadlines"]


def rebuilds(ledger: CaseLedger) -> dict[str, tuple[int, UUID | None]]:
    """Each rebuild under way: the head it rebuilds to, and the last case it has done."""
    db = ledger.read_models.db
    with db.transaction() as cursor:
        cursor.execute(f"SELECT name, head, last_case FROM {db.table(REBUILD_TABLE)}")
        return {n: (h, UUID(last) if last else None) for n, h, last in cursor.fetchall()}


def test_an_interrupted_rebuild_continues_and_the_old_tables_serve_meanwhile(
    ledger: CaseLedger, clock: SetClock
) -> None:
    cases = [s12_case_with_ppt(ledger, clock) for _ in range(2)]
    runner = ledger.read_models.runner
    head = runner.db.max_position()
    # Start a rebuild of the deadlines and stop it after its first batch (one case).
    runner.rebuild_batch_size = 1

    with pytest.raises(Stopped):
        runner.rebuild(["deadlines"], progress=stop_at_once)
    assert rebuilds(ledger) == {"deadlines_rebuild": (head, min(cases))}
    # Meanwhile a new event arrives; the live tables follow it.
    clock.advance(hours=1)
    new_case = s12_case_with_ppt(ledger, clock)
    assert ledger.deadlines(case_id=new_case)
    live = dump(ledger)
    # Run again: it continues to the head it started at, swaps in, then takes the new
    # events as every new event is taken.
    runner.rebuild(["deadlines"])
    assert "deadlines_rebuild" not in positions(ledger)
    assert rebuilds(ledger) == {}
    assert positions(ledger)["deadlines"] == runner.db.max_position()
    assert dump(ledger) == live
    runner.rebuild()
    assert dump(ledger) == live


class CountedRowMakers(RowMakers):
    """The worker pool, counting how many a rebuild started."""

    started = 0

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        CountedRowMakers.started += 1


@pytest.fixture
def workers_from_the_first_event(monkeypatch: pytest.MonkeyPatch) -> type[CountedRowMakers]:
    """A rebuild of any size uses worker processes (normally only from 50,000 events)."""
    monkeypatch.setattr(runner_module, "PARALLEL_FROM", 0)
    monkeypatch.setattr(runner_module, "RowMakers", CountedRowMakers)
    CountedRowMakers.started = 0
    return CountedRowMakers


def test_a_rebuild_with_worker_processes_swaps_in_the_rows_kept_command_by_command(
    ledger: CaseLedger, clock: SetClock, workers_from_the_first_event: type[CountedRowMakers]
) -> None:
    for _ in range(4):
        s12_case_with_ppt(ledger, clock)
    interleaved_cases(ledger, clock)
    before, tracked = dump(ledger), positions(ledger)
    runner = ledger.read_models.runner
    runner.rebuild_workers, runner.rebuild_batch_size = 2, 12  # a few cases per batch
    seen: list[int] = []

    runner.rebuild(progress=seen.append)

    assert workers_from_the_first_event.started == 1
    assert len(seen) > 3
    assert sum(seen) == tracked["deadlines"]
    assert dump(ledger) == before
    assert positions(ledger) == tracked


def three_cases_a_batch_each_on_two_workers(
    ledger: CaseLedger, clock: SetClock
) -> tuple[list[UUID], dict[str, list[tuple[Any, ...]]], ProjectionRunner, int]:
    """Three cases in id order, the live rows, the runner set to rebuild one case a batch on
    two workers, and the head it rebuilds to."""
    cases = sorted(s12_case_with_ppt(ledger, clock) for _ in range(3))
    before = dump(ledger)
    runner = ledger.read_models.runner
    runner.rebuild_workers, runner.rebuild_batch_size = 2, 1
    return cases, before, runner, runner.db.max_position()


def test_a_rebuild_with_workers_stopped_after_a_batch_continues_where_it_stopped(
    ledger: CaseLedger, clock: SetClock, workers_from_the_first_event: type[CountedRowMakers]
) -> None:
    cases, before, runner, head = three_cases_a_batch_each_on_two_workers(ledger, clock)

    with pytest.raises(Stopped):
        runner.rebuild(["deadlines"], progress=stop_at_once)
    assert rebuilds(ledger) == {"deadlines_rebuild": (head, cases[0])}

    runner.rebuild(["deadlines"])

    assert workers_from_the_first_event.started == 2
    assert rebuilds(ledger) == {}
    assert dump(ledger) == before


def test_a_rebuild_another_process_moved_on_meanwhile_stops_before_it_writes_a_batch_again(
    ledger: CaseLedger, clock: SetClock, workers_from_the_first_event: type[CountedRowMakers]
) -> None:
    cases, before, runner, head = three_cases_a_batch_each_on_two_workers(ledger, clock)

    def second_rebuild_does_one_case(count: int) -> None:
        # The operator started `bti rebuild` again in another terminal: it continues the
        # same rebuild, writes the next case and is stopped.
        runner.rebuild_workers = 0
        with pytest.raises(Stopped):
            runner.rebuild(["deadlines"], progress=stop_at_once)

    with pytest.raises(RuntimeError, match="restarted or finished this rebuild meanwhile"):
        runner.rebuild(["deadlines"], progress=second_rebuild_does_one_case)
    assert rebuilds(ledger) == {"deadlines_rebuild": (head, cases[1])}

    runner.rebuild(["deadlines"])

    assert rebuilds(ledger) == {}
    assert dump(ledger) == before


class OneWorkerDies(CountedRowMakers):
    """The pool, whose worker for the second batch is killed before it answers."""

    def rows(self, *batch_of_cases: Any) -> Batch:
        batch = super().rows(*batch_of_cases)
        if self._turn == 2:
            batch.worker.kill()
        return batch


def test_a_worker_that_dies_stops_the_rebuild_after_the_last_whole_batch(
    ledger: CaseLedger, clock: SetClock, workers_from_the_first_event: type[CountedRowMakers],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cases, before, runner, head = three_cases_a_batch_each_on_two_workers(ledger, clock)
    monkeypatch.setattr(runner_module, "RowMakers", OneWorkerDies)

    with pytest.raises(WorkerFailed, match="a rebuild worker stopped"):
        runner.rebuild(["deadlines"])

    assert rebuilds(ledger) == {"deadlines_rebuild": (head, cases[0])}
    assert dump(ledger) == before  # the live tables never stopped serving
    monkeypatch.setattr(runner_module, "RowMakers", CountedRowMakers)
    runner.rebuild(["deadlines"])
    assert rebuilds(ledger) == {}
    assert dump(ledger) == before


def test_the_tables_of_an_older_kind_of_rebuild_are_started_anew(
    ledger: CaseLedger, clock: SetClock
) -> None:
    s12_case_with_ppt(ledger, clock)
    before = dump(ledger)
    runner = ledger.read_models.runner
    # An older rebuild followed the log's order and stopped after three events.
    target = runner.rebuilding(runner.projections["deadlines"])
    with runner.db.transaction() as cursor:
        target.projection.create_tables(cursor, target.table)
        runner._ensure_tracking(cursor, target.tracking_name)
    with runner.db.transaction() as cursor:
        assert runner._batch(cursor, [target], 3) == 3
    runner.rebuild(["deadlines"])
    assert dump(ledger) == before
    assert "deadlines_rebuild" not in positions(ledger)


def interleaved_cases(ledger: CaseLedger, clock: SetClock) -> list[UUID]:
    """Three § 12-saker worked on in turn, so each case's events span many small batches."""
    cases = [
        ledger.register_undring(
            actor=TEACHER, child_ref=f"Elev-{n}", child_birth_date="2014-05-01",
            unit="Fossen skole", service="skole", noticed_at=clock.now,
            observations="Står alene i friminuttene.", tracks=["skolemiljo"],
        ).case_id
        for n in range(3)
    ]
    for case in cases:
        clock.advance(hours=1)
        ledger.share_with_leader(case, actor=TEACHER, leader=RECTOR.person, how="samtale")
    for case in cases:
        clock.advance(hours=1)
        ledger.invite_to_samtale(
            case, actor=TEACHER, with_whom=["guardians"], planned_at=clock.now + timedelta(days=2)
        )
    clock.advance(hours=1)
    ledger.close_case(
        cases[1], actor=RECTOR, reason="Ingen videre bekymring", closing_note="Går bra nå."
    )
    return cases


class Stopped(Exception):
    """The rebuild was stopped from outside (as by a kill between two batches)."""


def stop_at_once(count: int) -> None:
    """A rebuild's progress callback that stops it after its first batch."""
    raise Stopped


@pytest.mark.parametrize("batches", [1, 2, 3])
def test_a_rebuild_stopped_after_any_batch_and_run_again_by_a_new_process_equals_the_live_rows(
    database_url: str, ledger: CaseLedger, clock: SetClock, batches: int
) -> None:
    cases = sorted(interleaved_cases(ledger, clock))
    before = dump(ledger)
    runner = ledger.read_models.runner
    runner.rebuild_batch_size = 1  # a batch is a whole case: one event read, then the rest
    head = runner.db.max_position()
    done: list[int] = []

    def stop_after_some(count: int) -> None:
        done.append(count)
        if len(done) == batches:
            raise Stopped

    with pytest.raises(Stopped):
        runner.rebuild(progress=stop_after_some)
    # Every batch's last case is kept with its rows (the cases go in the order of their ids).
    assert set(rebuilds(ledger).values()) == {(head, cases[batches - 1])}
    assert positions(ledger)["deadlines_rebuild"] == 0
    # Another process continues: nothing the first one folded in memory survives.
    with CaseLedger.open(database_url, clock=clock, reader=TILSYN) as again:
        again.read_models.runner.rebuild_batch_size = 1
        again.read_models.runner.rebuild()
    assert dump(ledger) == before
    assert "deadlines_rebuild" not in positions(ledger)
    assert positions(ledger)["deadlines"] == head


def test_a_case_longer_than_a_batch_and_batches_that_end_inside_a_case_rebuild_alike(
    ledger: CaseLedger, clock: SetClock
) -> None:
    interleaved_cases(ledger, clock)
    s12_case_with_ppt(ledger, clock)
    before = dump(ledger)
    runner = ledger.read_models.runner
    for size in (1, 2, 3, 4, 5, 7, 1000):
        runner.rebuild_batch_size = size
        runner.rebuild()
        assert dump(ledger) == before, size


def test_a_new_rulebook_recomputes_deadlines_from_the_same_events(
    ledger: CaseLedger, clock: SetClock
) -> None:
    case = ledger.register_undring(
        actor=TEACHER, child_ref="Elev-9", child_birth_date="2015-02-01", unit="Fossen skole",
        service="skole", noticed_at=clock.now, observations="Lei seg i timene.",
    ).case_id
    history = ledger.history(case)
    due = {d.rule: d.due_at for d in ledger.deadlines(case_id=case)}
    default = load_rulebook("default")
    stricter = default.model_copy(update={
        "name": "stricter", "version": "2026.2",
        "durations": default.durations.model_copy(update={
            "decision_level0": Duration(amount=10, unit="days", source="Kommunestyret 2026"),
        }),
    })
    clock.advance(hours=1)
    ledger.adopt_rulebook(stricter, actor=RECTOR)
    assert ledger.history(case) == history  # history is never rewritten
    recomputed = {d.rule: d.due_at for d in ledger.deadlines(case_id=case)}
    expected = {d.rule: d.due_at for d in deadlines(history, stricter, clock.now) if d.state == "open"}
    assert recomputed == expected
    assert recomputed["decision_level0"] == due["decision_level0"] - timedelta(days=4)
    assert recomputed["samtale_with_guardians"] == due["samtale_with_guardians"]


def test_projections_are_tracked_with_their_position_in_their_own_table(
    ledger: CaseLedger, clock: SetClock
) -> None:
    s12_case_with_ppt(ledger, clock)
    db = ledger.read_models.db
    with db.transaction() as cursor:
        cursor.execute(f"SELECT name, position FROM {db.table(TRACKING_TABLE)} ORDER BY name")
        rows = cursor.fetchall()
    head = db.max_position()
    assert rows == [("access", head), ("case_summary", head), ("deadlines", head), ("stafett", head)]


@pytest.mark.slow
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_for_any_valid_history_a_rebuild_equals_the_incremental_projections(
    ledger: CaseLedger, clock: SetClock, data: st.DataObject
) -> None:
    for _ in range(data.draw(st.integers(1, 3))):
        undring = ledger.register_undring(
            actor=TEACHER, child_ref="Elev-3", child_birth_date="2009-01-15", unit="Fossen skole",
            service="skole", noticed_at=clock.now - timedelta(hours=1), observations="Sliten.",
            tracks=data.draw(st.sampled_from([[], ["skolemiljo"]])),
            violence_suspected=data.draw(st.booleans()),
        )
        built = Case.replay(undring.case_id, [undring])
        steps: list[str] = data.draw(st.lists(st.sampled_from(sorted(STEPS)), max_size=15))
        for name in steps:
            clock.advance(hours=data.draw(st.integers(1, 96)))
            step: Callable[..., Any] = STEPS[name]
            try:
                built._apply(step(ledger, undring.case_id, built, data))
            except RuleViolation:
                continue
    before = dump(ledger)
    ledger.read_models.runner.rebuild()
    assert dump(ledger) == before


def test_the_access_projection_shows_who_may_read_and_write_and_drops_an_expired_consent(
    ledger: CaseLedger, clock: SetClock
) -> None:
    case = s12_case_with_ppt(ledger, clock)
    now_grants = ledger.access(case)
    assert now_grants == [g for g in grants(ledger.case(case), clock.now)]
    assert ("service", "ppt", "consent") in {(g.principal_kind, g.principal, g.basis) for g in now_grants}
    clock.advance(days=45)  # the consent for PPT ran out after 30 days
    later = ledger.access(case)
    assert "ppt" not in {g.principal for g in later}
    assert ("service", "skole", "own_service") in {(g.principal_kind, g.principal, g.basis) for g in later}


@given(moment=st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(OSLO)
))
def test_a_moment_is_written_as_the_same_sortable_utc_text_as_before(moment: datetime) -> None:
    # The text is compared in queries against rows written by earlier versions.
    assert utc_text(moment) == moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
