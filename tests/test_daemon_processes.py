"""`bti daemon` as the real process a municipality runs: from cron (`--once`), under systemd
(SIGTERM), killed at the worst moments (SIGKILL), started twice by mistake.

The daemon's clock is set by the test through `--now` (`BTI_DAEMON_NOW`): a moment, or a file
the test rewrites to move a running daemon's time."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from ledger.application import CaseLedger
from ledger.events import ReminderDelivered, ReminderDeliveryFailed, ReminderIssued
from ledger.policies.deadlines import deadlines
from ledger.reminders.due import reached_stages
from tests.cast import RECTOR, TEACHER, TILSYN, SetClock
from tests.daemon_support import (
    ROOT,
    WebhookReceiver,
    bti,
    kill,
    log_lines,
    outcomes,
    process_env,
    reminders,
    set_clock_file,
    start_bti,
    wait_until,
)
from tests.stories import register_s12_undring, register_undring

pytestmark = pytest.mark.slow


def webhook_file(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "daemon.toml"
    path.write_text(
        f'[daemon]\nchannels = ["webhook"]\n[delivery]\npoll = "0.2s"\n'
        f'[webhook]\nurl = "{url}"\ntimeout = "20s"\n',
        encoding="utf-8",
    )
    return path


def logged(log: Path, event: str) -> list[dict[str, object]]:
    return [line for line in log_lines(log) if line.get("event") == event]


def test_bti_daemon_once_issues_and_delivers_what_is_due_and_says_so(
    ledger: CaseLedger, database_url: str, clock: SetClock
) -> None:
    case_id = register_s12_undring(ledger, clock)
    run = bti(database_url, "--lang", "en", "daemon", "--once", now=clock.now + timedelta(days=3))
    assert run.returncode == 0, run.stderr
    assert ("Reminders: 3 issued (3 late), 0 issued before, 0 already in the case, "
            "0 no longer needed. Delivered: 3, failed: 0, given up: 0.") in run.stderr
    lines = [line for line in run.stderr.splitlines() if line.startswith("{")]
    assert sum('"event":"reminder_logged"' in line for line in lines) == 3
    assert "Elev-17" not in run.stderr  # the log names ids and rules, never the child
    assert [r.stage for r in reminders(ledger, case_id)] == ["upcoming", "due", "overdue"]
    again = bti(database_url, "daemon", "--once", now=clock.now + timedelta(days=3, minutes=5))
    assert again.returncode == 0, again.stderr
    assert len(reminders(ledger, case_id)) == 3


def test_a_second_daemon_on_the_same_sqlite_file_is_refused_and_sigterm_stops_the_first(
    sqlite_url: str, clock: SetClock, tmp_path: Path
) -> None:
    CaseLedger.create(sqlite_url, rulebook="default", actor=RECTOR, clock=clock, reader=TILSYN).close()
    log = tmp_path / "first.log"
    first = start_bti(sqlite_url, "daemon", "--interval", "1s", now=clock.now, log=log)
    try:
        wait_until(lambda: bool(logged(log, "tick_done")), what="the first daemon's tick")
        second = bti(sqlite_url, "daemon", "--once", now=clock.now)
        assert second.returncode == 1
        lock_file = sqlite_url.removeprefix("sqlite:///") + "-daemon-lock"
        assert second.stderr.strip() == (
            "En påminnelsestjeneste kjører allerede mot denne databasen (låsefil "
            f"{lock_file}). Stopp den før du starter en ny. [daemon_already_running]"
        )
    finally:
        code = kill(first, signal.SIGTERM)
    assert code == 0
    events = [line["event"] for line in log_lines(log)]
    stopping = events[events.index("signal_received"):]
    assert [e for e in stopping if e.startswith(("signal_", "daemon_"))] == [
        "signal_received", "daemon_stopping", "daemon_stopped",
    ]
    assert stopping[-1] == "daemon_stopped"
    # A round under way when the signal came is let finish: its tick_done may come between.
    assert set(stopping) <= {"signal_received", "daemon_stopping", "tick_done",
                             "delivery_done", "daemon_stopped"}
    after = bti(sqlite_url, "daemon", "--once", now=clock.now)  # the lock went with it
    assert after.returncode == 0, after.stderr


def test_sigterm_lets_the_delivery_under_way_finish(
    ledger: CaseLedger, database_url: str, clock: SetClock, tmp_path: Path
) -> None:
    case_id = register_s12_undring(ledger, clock)
    receiver = WebhookReceiver(hold=True)
    log = tmp_path / "daemon.log"
    with receiver.serving() as url:
        daemon = start_bti(database_url, "daemon", "--config", str(webhook_file(tmp_path, url)),
                           now=clock.now, log=log)
        receiver.wait_for(1)
        daemon.send_signal(signal.SIGTERM)
        wait_until(lambda: bool(logged(log, "signal_received")), what="the signal to be seen")
        receiver.release()
        assert daemon.wait(timeout=30) == 0
    (reminder,) = reminders(ledger, case_id)
    (delivered,) = outcomes(ledger, case_id)
    assert isinstance(delivered, ReminderDelivered)
    assert delivered.reminder_event_id == reminder.event_id
    assert receiver.keys == [str(reminder.event_id)]


@pytest.mark.parametrize("moment", ["after_recording", "before_delivering"])
def test_a_daemon_killed_between_issuing_and_delivering_delivers_after_restart(
    ledger: CaseLedger, database_url: str, clock: SetClock, tmp_path: Path, moment: str
) -> None:
    case_id = register_s12_undring(ledger, clock)
    now = clock.now + timedelta(days=3)
    receiver = WebhookReceiver()
    with receiver.serving() as url:
        settings = webhook_file(tmp_path, url)
        killed = subprocess.run(
            [sys.executable, str(ROOT / "tests" / "daemon_kill_after_issue.py"), database_url,
             now.isoformat(), moment, str(settings)],
            env=process_env(), capture_output=True, text=True, timeout=60, check=False,
        )
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        assert len(reminders(ledger, case_id)) == 3
        assert outcomes(ledger, case_id) == []
        assert receiver.received == []

        restarted = bti(database_url, "daemon", "--once", "--config", str(settings), now=now)
        assert restarted.returncode == 0, restarted.stderr

    issued = reminders(ledger, case_id)
    assert len(issued) == 3
    delivered = [e for e in outcomes(ledger, case_id) if isinstance(e, ReminderDelivered)]
    assert sorted(str(e.reminder_event_id) for e in delivered) == sorted(
        str(r.event_id) for r in issued
    )
    assert sorted(receiver.keys) == sorted(str(r.event_id) for r in issued)


def test_a_daemon_killed_during_delivery_delivers_again_with_the_same_key_recorded_once(
    ledger: CaseLedger, database_url: str, clock: SetClock, tmp_path: Path
) -> None:
    case_id = register_s12_undring(ledger, clock)
    receiver = WebhookReceiver(hold=True)
    with receiver.serving() as url:
        settings = webhook_file(tmp_path, url)
        daemon = start_bti(database_url, "daemon", "--once", "--config", str(settings),
                           now=clock.now, log=tmp_path / "killed.log")
        receiver.wait_for(1)  # the receiver has it; the daemon waits for the answer
        assert kill(daemon) == -signal.SIGKILL
        receiver.release()
        assert outcomes(ledger, case_id) == []

        restarted = bti(database_url, "daemon", "--once", "--config", str(settings),
                        now=clock.now + timedelta(minutes=5))
        assert restarted.returncode == 0, restarted.stderr

    (reminder,) = reminders(ledger, case_id)
    assert receiver.keys == [str(reminder.event_id)] * 2
    (delivered,) = outcomes(ledger, case_id)
    assert isinstance(delivered, ReminderDelivered) and delivered.attempt == 1


def test_two_daemons_against_postgresql_for_many_ticks_never_double_and_never_miss(
    postgres_url: str, tmp_path: Path
) -> None:
    clock = SetClock(datetime.fromisoformat("2026-03-02T08:00:00+00:00"))
    with CaseLedger.create(postgres_url, rulebook="default", actor=RECTOR, clock=clock, reader=TILSYN) as ledger:
        case_ids = []
        for number in range(6):
            tracks = ("skolemiljo",) if number % 2 else ()
            case_ids.append(register_undring(ledger, clock, child_ref=f"Elev-{number}",
                                             tracks=tracks))
            if number % 3 == 0:
                ledger.share_with_leader(case_ids[-1], actor=TEACHER, leader=RECTOR.person,
                                         how="samtale")
            clock.advance(hours=7)

        clock_file = tmp_path / "now"
        set_clock_file(clock_file, clock.now)
        settings = tmp_path / "daemon.toml"
        settings.write_text('[delivery]\npoll = "0.2s"\n', encoding="utf-8")
        logs = [tmp_path / "a.log", tmp_path / "b.log"]
        daemons = [
            start_bti(postgres_url, "daemon", "--interval", "0.2s", "--config", str(settings),
                      now=clock_file, log=log)
            for log in logs
        ]
        stopped_first = None
        try:
            for half_day in range(24):  # twelve days, twice a day
                if half_day == 12:
                    # Halfway, the first daemon is stopped: the second carries on alone.
                    assert kill(daemons[0], signal.SIGTERM) == 0
                    stopped_first = clock.now
                clock.advance(hours=12)
                set_clock_file(clock_file, clock.now)
                wait_until(lambda: any(
                    datetime.fromisoformat(str(line["now"])) >= clock.now
                    for log in logs for line in logged(log, "tick_done")
                ), what=f"a tick at {clock.now}")
            assert daemons[1].poll() is None, "the second daemon has stopped"
            wait_until(lambda: sum(
                datetime.fromisoformat(str(line["now"])) >= clock.now
                for line in logged(logs[1], "tick_done") + logged(logs[1], "round_skipped")
            ) >= 2, what="the second daemon to look once more at the end")
        finally:
            codes = [kill(daemon, signal.SIGTERM) for daemon in daemons]
        assert codes == [0, 0]

        events = list(ledger.all_events())
        issued = [e for e in events if isinstance(e, ReminderIssued)]
        pairs = Counter((r.deadline_id, r.stage) for r in issued)
        assert max(pairs.values()) == 1, "a reminder was issued twice"
        expected = {
            (due.deadline.deadline_id, due.stage.name)
            for case_id in case_ids
            for deadline in deadlines(ledger.history(case_id), ledger.rulebook, clock.now)
            for due in reached_stages(deadline, ledger.rulebook, clock.now)
        }
        assert set(pairs) == expected
        assert len(expected) > 20
        delivered = Counter(
            e.reminder_event_id for e in events if isinstance(e, ReminderDelivered)
        )
        assert delivered == Counter(r.event_id for r in issued)
        assert not any(isinstance(e, ReminderDeliveryFailed) for e in events)
        assert stopped_first is not None
        assert any(
            datetime.fromisoformat(str(line["now"])) > stopped_first
            for line in logged(logs[1], "tick_done")
        ), "the second daemon worked the rounds after the first stopped"
