"""The reminder daemon issues each reminder once: stories of a § 12-sak at Fossen skole whose
deadlines pass stage by stage, with the daemon running, down for days, or restarted.

Each test runs on a SQLite file and on PostgreSQL, the daemon in this process on the test's
clock (ticks are called by the test; `test_daemon_processes.py` runs it as a process)."""

from __future__ import annotations

from datetime import datetime, timedelta

from ledger.application import CaseLedger
from ledger.events import ReminderIssued
from ledger.policies.calendar import OSLO
from ledger.policies.deadlines import reminder_due
from ledger.reminders.due import reminder_id
from ledger.reminders.issuing import owed_deadlines
from tests.cast import RECTOR, TEACHER, SetClock
from tests.daemon_support import config, reminders, running_daemon, stages
from tests.stories import register_s12_undring

SIX_HOURLY = config('[daemon]\ninterval = "6h"')
"""A daemon that looks every six hours: the tests move the clock by as much between ticks."""


def tick_until(daemon_url: str, clock: SetClock, until_days: float, step_hours: float = 6) -> None:
    """Run the daemon every `step_hours` from now for `until_days`, as a running daemon would."""
    with running_daemon(daemon_url, clock, SIX_HOURLY) as daemon:
        end = clock.now + timedelta(days=until_days)
        while clock.now <= end:
            daemon.tick()
            clock.advance(hours=step_hours)


def test_a_running_daemon_reminds_of_each_stage_once_on_time_to_the_holder_and_the_leader(
    ledger: CaseLedger, database_url: str, clock: SetClock
) -> None:
    case_id = register_s12_undring(ledger, clock)
    with running_daemon(database_url, clock, SIX_HOURLY) as daemon:
        daemon.tick()  # the share-with-leader's upcoming stage falls when the undring does
        clock.advance(hours=1)
        ledger.share_with_leader(case_id, actor=TEACHER, leader=RECTOR.person, how="samtale")
        issued_at: dict[tuple[str, str], int] = {}
        for tick in range(1, 12 * 4 + 2):  # to Saturday 14 March
            clock.advance(hours=6)
            daemon.tick()
            for r in reminders(ledger, case_id):
                issued_at.setdefault((r.rule, r.stage), tick)

    assert stages(ledger, case_id) == [
        ("share_with_leader", "upcoming"),
        ("s12_innkalling", "upcoming"),
        ("s12_innkalling", "due"),
        ("s12_innkalling", "overdue"),
        ("decision_level0", "upcoming"),
    ]
    by_stage = {(r.rule, r.stage): r for r in reminders(ledger, case_id)}
    innkalling = [by_stage["s12_innkalling", s] for s in ("upcoming", "due", "overdue")]
    assert [r.to for r in innkalling] == [
        ("Kari Lærer",), ("Kari Lærer",), ("Kari Lærer", "Rita Rektor"),
    ]
    assert all(r.late_by_seconds is None for r in reminders(ledger, case_id))
    assert all(r.actor.role == "system" for r in reminders(ledger, case_id))
    # each at the first tick after its stage fell: Sat 7, Mon 9, Tue 10 March (00:00 Oslo)
    assert [issued_at["s12_innkalling", s] for s in ("upcoming", "due", "overdue")] == [19, 27, 31]
    assert innkalling[0].event_id == reminder_id(innkalling[0].deadline_id, "upcoming")


def test_no_reminder_after_the_deadline_is_met(
    ledger: CaseLedger, database_url: str, clock: SetClock
) -> None:
    case_id = register_s12_undring(ledger, clock)
    clock.advance(hours=1)
    ledger.share_with_leader(case_id, actor=TEACHER, leader=RECTOR.person, how="samtale")
    clock.advance(days=5)  # Saturday 7 March: the § 12 innkalling is due on Monday
    tick_until(database_url, clock, until_days=0.5)
    assert ("s12_innkalling", "upcoming") in stages(ledger, case_id)
    ledger.invite_to_samtale(
        case_id, actor=TEACHER, with_whom=["guardians", "child"],
        planned_at=(clock.now + timedelta(days=3)).isoformat(),
    )
    tick_until(database_url, clock, until_days=5)
    innkalling = [s for rule, s in stages(ledger, case_id) if rule == "s12_innkalling"]
    assert innkalling == ["upcoming"]


def test_a_daemon_down_for_three_days_issues_each_missed_stage_once_marked_late(
    ledger: CaseLedger, database_url: str, clock: SetClock
) -> None:
    late_case = register_s12_undring(ledger, clock)
    kept_case = register_s12_undring(ledger, clock)
    with running_daemon(database_url, clock, SIX_HOURLY) as daemon:
        daemon.tick()
    # Down from Monday morning to Thursday morning. Meanwhile one teacher shares with the
    # leader (the duty is done), the other does not (due Wednesday, overdue Thursday).
    clock.advance(days=1)
    ledger.share_with_leader(kept_case, actor=TEACHER, leader=RECTOR.person, how="samtale")
    clock.advance(days=2)
    with running_daemon(database_url, clock, SIX_HOURLY) as daemon:
        report = daemon.tick()
        again = daemon.tick()

    assert report.issued is not None and again.issued is not None
    assert (report.issued.issued, report.issued.late) == (2, 2)
    assert again.issued.issued == 0
    missed = {r.stage: r for r in reminders(ledger, late_case) if r.stage != "upcoming"}
    assert set(missed) == {"due", "overdue"}
    # due fell Wed 4 March 00:00 Oslo, overdue Thu 5 March 00:00; the daemon came back Thu 09:00
    assert missed["due"].late_by_seconds == int(timedelta(days=1, hours=9).total_seconds())
    assert missed["overdue"].late_by_seconds == int(timedelta(hours=9).total_seconds())
    assert missed["overdue"].to == ("Kari Lærer",)  # not shared: no leader known to remind
    assert stages(ledger, kept_case) == [("share_with_leader", "upcoming")]


def test_a_restarted_daemon_issues_nothing_twice(
    ledger: CaseLedger, database_url: str, clock: SetClock
) -> None:
    case_id = register_s12_undring(ledger, clock)
    clock.advance(days=8)
    tick_until(database_url, clock, until_days=0.5)
    before = reminders(ledger, case_id)
    with running_daemon(database_url, clock, SIX_HOURLY) as daemon:
        report = daemon.tick()
    assert report.issued is not None and report.issued.issued == 0
    assert reminders(ledger, case_id) == before
    assert len({r.event_id for r in before}) == len(before) >= 6


def test_a_closed_case_gets_no_reminder(
    ledger: CaseLedger, database_url: str, clock: SetClock
) -> None:
    case_id = register_s12_undring(ledger, clock)
    clock.advance(hours=1)
    ledger.close_case(case_id, actor=RECTOR, reason="Registrert ved en feil.",
                      closing_note="Feil elev; ingen uro.")
    clock.advance(days=10)
    tick_until(database_url, clock, until_days=1)
    assert reminders(ledger, case_id) == []


def test_a_stage_that_fell_before_the_case_was_recorded_is_not_late(
    ledger: CaseLedger, database_url: str, clock: SetClock
) -> None:
    # Registered a week after it was noticed: share-with-leader was overdue before anyone
    # could know. Each stage is issued once, and none counts as the daemon's lateness.
    event = ledger.register_undring(
        actor=TEACHER, child_ref="Elev-40", child_birth_date="2014-05-01",
        unit=TEACHER.unit, service=TEACHER.service, noticed_at=clock.now - timedelta(days=7),
        observations="Har ikke møtt på skolen på en uke.",
    )
    tick_until(database_url, clock, until_days=0)
    issued = reminders(ledger, event.case_id)
    assert {(r.rule, r.stage) for r in issued} >= {
        ("share_with_leader", "upcoming"), ("share_with_leader", "due"),
        ("share_with_leader", "overdue"),
    }
    assert all(r.late_by_seconds is None for r in issued)


def test_delivering_reminders_is_no_activity_on_the_case(
    ledger: CaseLedger, database_url: str, clock: SetClock
) -> None:
    case_id = register_s12_undring(ledger, clock)
    stalled_before = next(d for d in ledger.deadlines(case_id=case_id) if d.rule == "stalled_case")
    tick_until(database_url, clock, until_days=0)
    assert any(isinstance(e, ReminderIssued) for e in ledger.history(case_id))
    stalled_after = next(d for d in ledger.deadlines(case_id=case_id) if d.rule == "stalled_case")
    assert stalled_after.deadline_id == stalled_before.deadline_id
    assert ledger.case(case_id).last_activity == stalled_before.basis_at


def test_a_deadline_reminded_at_every_stage_is_not_read_again_at_each_tick(
    ledger: CaseLedger, database_url: str, clock: SetClock
) -> None:
    # The § 12 innkalling is missed and the case stays open: the deadline stays undone for
    # as long as the case is, but once all its stages are issued a tick leaves it out
    # (with a hundred thousand open cases a tick must not grow with every missed deadline).
    case_id = register_s12_undring(ledger, clock)
    ledger.share_with_leader(case_id, actor=TEACHER, leader=RECTOR.person, how="samtale")
    tick_until(database_url, clock, until_days=12)
    assert [s for rule, s in stages(ledger, case_id) if rule == "s12_innkalling"] == [
        "upcoming", "due", "overdue",
    ]
    with running_daemon(database_url, clock, SIX_HOURLY) as daemon:
        undone = {d.rule for d in ledger.deadlines(case_id=case_id)}
        owed = {d.rule for d in owed_deadlines(ledger.read_models.db, clock.now)}
        report = daemon.tick().issued
    assert "s12_innkalling" in undone
    assert "s12_innkalling" not in owed
    assert report is not None and report.issued == report.seen_before == 0


def test_a_tick_reads_only_the_deadlines_whose_next_stage_has_fallen(
    ledger: CaseLedger, database_url: str, clock: SetClock
) -> None:
    # Monday 2 March: the undring is registered and shared, so the § 12 innkalling (due
    # Monday 9 March) has its upcoming stage on Saturday 7 March 00:00 in Oslo.
    case_id = register_s12_undring(ledger, clock)
    ledger.share_with_leader(case_id, actor=TEACHER, leader=RECTOR.person, how="samtale")
    innkalling = next(d for d in ledger.deadlines(case_id=case_id) if d.rule == "s12_innkalling")
    saturday = datetime(2026, 3, 7, tzinfo=OSLO)
    db = ledger.read_models.db

    def owed_rules(now: datetime) -> set[str]:
        return {d.rule for d in owed_deadlines(db, now) if d.case_id == case_id}

    assert reminder_due(innkalling, ledger.rulebook.reminder_stages[0], ledger.rulebook) == saturday
    assert "s12_innkalling" not in owed_rules(saturday - timedelta(microseconds=1))
    assert "s12_innkalling" in owed_rules(saturday)
    clock.advance(days=4, hours=15)  # Saturday 7 March, 00:00
    tick_until(database_url, clock, until_days=0)
    assert ("s12_innkalling", "upcoming") in stages(ledger, case_id)
    # issued: not read again until the due stage falls on Monday morning
    assert "s12_innkalling" not in owed_rules(saturday + timedelta(days=1, hours=23))
    assert "s12_innkalling" in owed_rules(datetime(2026, 3, 9, tzinfo=OSLO))


def test_a_ledger_from_before_the_next_reminder_column_reminds_once_and_is_fast_after_a_rebuild(
    ledger: CaseLedger, database_url: str, clock: SetClock
) -> None:
    case_id = register_s12_undring(ledger, clock)
    ledger.share_with_leader(case_id, actor=TEACHER, leader=RECTOR.person, how="samtale")
    clock.advance(days=4, hours=15)  # Saturday 7 March, 00:00: the innkalling's upcoming stage
    tick_until(database_url, clock, until_days=0)
    before = stages(ledger, case_id)
    drop_next_reminder_column(ledger)
    clock.advance(days=2)  # Monday 9 March: the due stage has fallen

    with running_daemon(database_url, clock, SIX_HOURLY) as daemon:  # the upgraded daemon
        db = daemon.ledger.read_models.db
        daemon.ledger.read_models.catch_up()  # as a tick does first: the column is added
        read = {d.rule for d in owed_deadlines(db, clock.now) if d.case_id == case_id}
        report = daemon.tick().issued
        again = daemon.tick().issued
        daemon.ledger.read_models.runner.rebuild(["deadlines"])
        after_rebuild = {d.rule for d in owed_deadlines(db, clock.now) if d.case_id == case_id}

    assert "stalled_case" in read  # not yet known: read, as every undone deadline was before
    assert report is not None and again is not None and again.issued == 0
    assert stages(ledger, case_id) == [*before, ("s12_innkalling", "due")]
    assert after_rebuild == set()


def drop_next_reminder_column(ledger: CaseLedger) -> None:
    """Make the deadline table as a ledger made before `next_reminder_at` has it."""
    db = ledger.read_models.db
    with db.transaction() as cursor:
        cursor.execute(f"DROP INDEX {db.table('bti_deadlines_next_reminder')}")
        cursor.execute(f"ALTER TABLE {db.table('bti_deadlines')} DROP COLUMN next_reminder_at")
