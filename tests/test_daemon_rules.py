"""The daemon's small rules, without a database: its configuration file, when a stage is
due and late, who is reminded, how long it waits before trying again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest

from ledger.daemon import clock_from
from ledger.errors import LedgerError
from ledger.policies.deadlines import Deadline, DeadlineState
from ledger.policies.rulebook import load_rulebook
from ledger.reminders.config import DaemonConfig, load_config, parse_config, parse_duration
from ledger.reminders.due import late_by, reached_stages, recipients, reminder_id
from ledger.reminders.firing import advisory_key

RULEBOOK = load_rulebook("default")
STAGES = {stage.name: stage for stage in RULEBOOK.reminder_stages}
MONDAY = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def a_deadline(state: DeadlineState = "open", met_by: bool = False) -> Deadline:
    case_id, basis = uuid4(), uuid4()
    return Deadline(
        deadline_id=f"s12_innkalling:{case_id}:{basis}", case_id=case_id, rule="s12_innkalling",
        basis_event_id=basis, basis_at=MONDAY, due_at=MONDAY + timedelta(days=7), state=state,
        met_by=uuid4() if met_by else None, met_at=MONDAY + timedelta(days=8) if met_by else None,
        unit="Fossen skole", holder="Kari Lærer",
    )


def test_durations_are_written_with_a_unit() -> None:
    assert parse_duration("5m") == timedelta(minutes=5)
    assert parse_duration("0.5s") == timedelta(milliseconds=500)
    assert parse_duration("2d") == timedelta(days=2)
    with pytest.raises(ValueError, match="not a duration: 'five minutes'"):
        parse_duration("five minutes")


def test_without_a_file_the_daemon_logs_every_five_minutes() -> None:
    config = load_config(None)
    assert config.daemon.channels == ("log",)
    assert config.daemon.interval == timedelta(minutes=5)


def test_a_channel_without_its_settings_is_refused_with_the_reason() -> None:
    with pytest.raises(LedgerError, match=r"i daemon.toml er ugyldig: kanalen «webhook» står i "
                       r"channels, men filen har ingen \[webhook\]-del \[daemon_config_invalid\]"):
        parse_config('[daemon]\nchannels = ["log", "webhook"]\n', "daemon.toml")


def test_every_bad_duration_in_the_configuration_is_named_with_its_key() -> None:
    with pytest.raises(LedgerError) as refused:
        parse_config('[daemon]\ninterval = "0s"\n[delivery]\npoll = "half a minute"\n', "d.toml")

    assert refused.value.params["problems"] == (
        "daemon.interval: varigheten må være lengre enn null; "
        "delivery.poll: 'half a minute' er ikke en varighet; skriv for eksempel "
        '"30s", "5m", "1h" eller "2d"'
    )


def test_an_unreadable_configuration_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match=r"daemon_config_unreadable"):
        load_config(tmp_path / "missing.toml")


def test_the_backoff_doubles_up_to_its_ceiling() -> None:
    delivery = DaemonConfig().delivery
    assert [delivery.retry_delay(n) for n in (1, 2, 3, 7, 8)] == [
        timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4),
        timedelta(hours=1), timedelta(hours=1),
    ]


def test_a_reminder_id_depends_on_the_deadline_and_the_stage_only() -> None:
    assert reminder_id("rule:a:b", "due") == reminder_id("rule:a:b", "due")
    assert reminder_id("rule:a:b", "due") != reminder_id("rule:a:b", "overdue")


def test_stages_fall_on_the_mornings_of_their_days_in_oslo() -> None:
    deadline = a_deadline()
    due_monday = datetime(2026, 3, 8, 23, 0, tzinfo=UTC)  # Monday 9 March 00:00 in Oslo
    assert [d.stage.name for d in reached_stages(deadline, RULEBOOK, due_monday)] == [
        "upcoming", "due",
    ]
    assert [d.stage.name for d in reached_stages(
        deadline, RULEBOOK, due_monday - timedelta(microseconds=1)
    )] == ["upcoming"]


def test_a_deadline_met_or_done_late_gets_no_reminder() -> None:
    much_later = MONDAY + timedelta(days=30)
    assert reached_stages(a_deadline("met"), RULEBOOK, much_later) == []
    assert reached_stages(a_deadline("cancelled"), RULEBOOK, much_later) == []
    assert reached_stages(a_deadline("missed", met_by=True), RULEBOOK, much_later) == []
    assert len(reached_stages(a_deadline("missed"), RULEBOOK, much_later)) == 3


def test_the_overdue_reminder_goes_to_the_leader_too_once() -> None:
    assert recipients(STAGES["due"], "Kari Lærer", "Rita Rektor") == ("Kari Lærer",)
    assert recipients(STAGES["overdue"], "Kari Lærer", "Rita Rektor") == (
        "Kari Lærer", "Rita Rektor",
    )
    assert recipients(STAGES["overdue"], "Rita Rektor", "Rita Rektor") == ("Rita Rektor",)
    assert recipients(STAGES["overdue"], "Kari Lærer", None) == ("Kari Lærer",)


def test_late_counts_from_the_stage_or_from_when_the_deadline_was_recorded() -> None:
    interval = timedelta(minutes=6)
    stage = MONDAY
    assert late_by(stage, stage, stage + timedelta(minutes=5), interval) is None
    assert late_by(stage, stage, stage + timedelta(hours=2), interval) == 7200
    recorded_later = stage + timedelta(days=3)
    assert late_by(stage, recorded_later, recorded_later + timedelta(minutes=1), interval) is None


def test_the_test_clock_is_a_moment_or_a_file_read_each_time(tmp_path: Path) -> None:
    assert clock_from("2026-03-02T09:00:00+01:00")() == MONDAY
    path = tmp_path / "now"
    path.write_text("2026-03-02T08:00:00Z")
    clock = clock_from(f"@{path}")
    path.write_text("2026-03-03T08:00:00Z")
    assert clock() == MONDAY + timedelta(days=1)
    with pytest.raises(LedgerError, match="daemon_clock_invalid"):
        clock_from("2026-03-02T09:00")  # no time zone


def test_ledgers_in_different_schemas_take_different_locks() -> None:
    assert advisory_key("test", "a") == advisory_key("test", "a")
    assert advisory_key("test", "a") != advisory_key("test", "b")
