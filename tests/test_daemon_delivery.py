"""Delivering reminders through the outbox: a webhook that fails twice and then accepts, an
e-mail in plain bokmål with nothing sensitive in the subject, a receiver that refuses for
good, a case closed before the reminder went out, and replay that never reminds (a rebuild,
an import of old events).

The webhook and SMTP servers are real, on 127.0.0.1; the daemon runs in this process on
the test's clock, on a SQLite file and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from uuid import UUID

import orjson
import pytest
from typer.testing import CliRunner

from ledger import messages
from ledger.application import CaseLedger
from ledger.cli import build_app
from ledger.errors import AccessRefused
from ledger.events import Actor, ReminderDelivered, ReminderDeliveryFailed, ReminderIssued
from ledger.reminders.due import reminder_id
from ledger.transfer import export_events, import_events
from tests.cast import COORDINATOR, PEDAGOGUE, RECTOR, STYRER, TEACHER, TILSYN, SetClock
from tests.daemon_support import (
    SmtpReceiver,
    WebhookReceiver,
    config,
    outcomes,
    reminders,
    running_daemon,
)
from tests.stories import register_s12_undring, register_undring


@pytest.fixture(autouse=True)
def bokmal_again() -> Iterator[None]:
    yield
    messages.set_language("nb")


def webhook_config(url: str, delivery: str = "") -> str:
    """The webhook as the only channel; `delivery` adds lines to the [delivery] table."""
    return (
        f'[daemon]\nchannels = ["webhook"]\n[delivery]\nbackoff = "1m"\n{delivery}\n'
        f'[webhook]\nurl = "{url}"\ntimeout = "5s"\n'
    )


def test_a_webhook_that_fails_twice_gets_the_reminder_on_the_third_try_with_one_key(
    ledger: CaseLedger, database_url: str, clock: SetClock
) -> None:
    case_id = register_s12_undring(ledger, clock)
    receiver = WebhookReceiver(fail_first=2)
    with receiver.serving() as url, running_daemon(
        database_url, clock, config(webhook_config(url))
    ) as daemon:
        daemon.tick()  # attempt 1 fails; tried again after 1 minute
        clock.advance(seconds=30)
        daemon.deliver()  # too early: nothing is sent
        clock.advance(seconds=30)
        daemon.deliver()  # attempt 2 fails; again after 2 minutes
        clock.advance(minutes=2)
        daemon.deliver()  # attempt 3 is accepted
        clock.advance(minutes=10)
        daemon.deliver()  # nothing left to do

    (reminder,) = reminders(ledger, case_id)
    assert receiver.keys == [str(reminder.event_id)] * 3
    assert receiver.received[-1].body == reminder.model_dump(mode="json")
    history = outcomes(ledger, case_id)
    assert [(type(e).__name__, e.attempt) for e in history] == [  # type: ignore[attr-defined]
        ("ReminderDeliveryFailed", 1), ("ReminderDeliveryFailed", 2), ("ReminderDelivered", 3),
    ]
    first, second, delivered = history
    assert isinstance(first, ReminderDeliveryFailed) and isinstance(second, ReminderDeliveryFailed)
    assert first.error == "HTTP 503 Service Unavailable"
    assert first.retry_at == first.occurred_at + timedelta(minutes=1)
    assert second.retry_at == second.occurred_at + timedelta(minutes=2)
    assert isinstance(delivered, ReminderDelivered)
    assert delivered.idempotency_key == str(reminder.event_id)
    assert delivered.reminder_event_id == reminder.event_id


def test_a_receiver_that_keeps_failing_is_given_up_after_the_last_attempt(
    ledger: CaseLedger, database_url: str, clock: SetClock
) -> None:
    case_id = register_s12_undring(ledger, clock)
    receiver = WebhookReceiver(fail_first=100)
    with receiver.serving() as url, running_daemon(
        database_url, clock, config(webhook_config(url, "max_attempts = 3"))
    ) as daemon:
        daemon.tick()
        for _ in range(5):
            clock.advance(hours=1)
            daemon.deliver()

    failures = [e for e in outcomes(ledger, case_id) if isinstance(e, ReminderDeliveryFailed)]
    assert [(f.attempt, f.retry_at is None) for f in failures] == [(1, False), (2, False), (3, True)]
    assert len(receiver.received) == 3
    result = CliRunner().invoke(build_app(), ["--db", database_url, "reminders", "--pending",
                                               "--json"])
    assert result.exit_code == 0, result.output
    (row,) = orjson.loads(result.output)
    assert (row["status"], row["attempts"], row["last_error"], row["next_attempt_at"]) == (
        "failed", 3, "HTTP 503 Service Unavailable", None
    )


def test_an_e_mail_names_the_duty_and_the_step_in_bokmal_and_nothing_about_the_child(
    ledger: CaseLedger, database_url: str, clock: SetClock
) -> None:
    case_id = register_s12_undring(ledger, clock)
    clock.advance(hours=1)
    ledger.share_with_leader(case_id, actor=TEACHER, leader=RECTOR.person, how="samtale")
    clock.advance(days=8)  # Tuesday 10 March: the § 12 innkalling is overdue
    smtp = SmtpReceiver()
    with smtp.serving() as port:
        settings = config(
            '[daemon]\nchannels = ["email"]\n'
            f'[email]\nhost = "127.0.0.1"\nport = {port}\nsender = "bti@kommune.no"\n'
            '[email.addresses]\n"Kari Lærer" = "kari@kommune.no"\n'
            '"Rita Rektor" = "rita@kommune.no"\n'
        )
        with running_daemon(database_url, clock, settings) as daemon:
            report = daemon.tick()
    assert report.delivered is not None and report.delivered.delivered == len(smtp.messages)

    overdue = next(r for r in reminders(ledger, case_id)
                   if (r.rule, r.stage) == ("s12_innkalling", "overdue"))
    (to, message), = [
        (to, m) for to, m in smtp.messages
        if m["X-BTI-Idempotency-Key"] == str(overdue.event_id)
    ]
    assert sorted(to) == ["kari@kommune.no", "rita@kommune.no"]
    assert message["Subject"] == "BTI-påminnelse: en frist er passert"
    body = message.get_content()
    assert "Innkalle foresatte til samtale (§ 12-sak)" in body
    assert "Frist: 2026-03-09 08:00" in body
    assert "Fristen er passert" in body
    assert "Nivå 0: Undring, trinn «Konkretiser undringen»" in body
    assert "Enhet: Fossen skole" in body
    assert str(case_id) in body
    for secret in ("Elev-17", "friminuttene", "fotballbanen"):
        assert secret not in body and secret not in message["Subject"]
    assert message["Message-ID"] == f"<{overdue.event_id}.reminder@bti-ledger>"
    assert all(isinstance(e, ReminderDelivered) and e.channel == "email"
               for e in outcomes(ledger, case_id))


def test_a_reminder_of_a_case_closed_before_it_went_out_is_dropped(
    ledger: CaseLedger, database_url: str, clock: SetClock
) -> None:
    case_id = register_s12_undring(ledger, clock)
    receiver = WebhookReceiver(fail_first=1)
    with receiver.serving() as url, running_daemon(
        database_url, clock, config(webhook_config(url))
    ) as daemon:
        daemon.tick()
        ledger.close_case(case_id, actor=RECTOR, reason="Feil elev.", closing_note="Ingen uro.")
        clock.advance(minutes=5)
        report = daemon.deliver()
    assert report.delivered is not None and report.delivered.dropped == 1
    assert len(receiver.received) == 1
    result = CliRunner().invoke(build_app(), ["--db", database_url, "--lang", "en", "reminders",
                                               "--case", str(case_id), "--json"])
    assert result.exit_code == 0, result.output
    assert '"status": "dropped"' in result.output


def test_bti_reminders_lists_what_was_issued_and_how_it_was_delivered(
    ledger: CaseLedger, database_url: str, clock: SetClock
) -> None:
    case_id = register_s12_undring(ledger, clock)
    clock.advance(days=3)
    with running_daemon(database_url, clock) as daemon:
        daemon.tick()
    app = build_app()
    shown = CliRunner().invoke(app, ["--db", database_url, "--lang", "en", "reminders"])
    assert shown.exit_code == 0, shown.output
    assert f"Case {case_id}" in shown.output
    assert "Share the undring with the nearest" in shown.output
    assert "(33.0 h late)" in shown.output  # due Wednesday 08:00, issued Thursday 09:00
    assert "delivered 2026-03-05 09:00" in shown.output
    listed = CliRunner().invoke(app, ["--db", database_url, "reminders", "--case", str(case_id),
                                      "--json"])
    rows = orjson.loads(listed.output)
    assert {(r["rule"], r["stage"], r["channel"], r["status"]) for r in rows} == {
        ("share_with_leader", s, "log", "delivered") for s in ("upcoming", "due", "overdue")
    }
    pending = CliRunner().invoke(app, ["--db", database_url, "reminders", "--pending"])
    assert "Ingen påminnelser." in pending.output


def test_each_reader_lists_the_reminders_of_the_cases_they_may_read_and_the_operator_all(
    ledger: CaseLedger, database_url: str, clock: SetClock
) -> None:
    school = register_undring(ledger, clock)
    barnehage = register_undring(ledger, clock, child_ref="Barn-4", actor=PEDAGOGUE)
    clock.advance(days=3)  # neither undring was shared with the leader: both are reminded
    with running_daemon(database_url, clock) as daemon:
        daemon.tick()

    def cases_listed(reader: Actor | None) -> set[UUID]:
        view = ledger.reading_as(reader or TILSYN, purpose="oppfølging")
        view.reader = reader
        return {row.case_id for row in view.reminders()}

    assert cases_listed(RECTOR) == {school}
    assert cases_listed(STYRER) == {barnehage}
    assert cases_listed(TILSYN) == cases_listed(None) == {school, barnehage}
    with pytest.raises(AccessRefused) as no_case_identities:
        cases_listed(COORDINATOR)
    assert no_case_identities.value.code == "statistics_only"
    # One case's reminders are a read of that case: checked and written to the read audit.
    with pytest.raises(AccessRefused):
        ledger.reading_as(STYRER, purpose="nysgjerrig").reminders(school)
    assert ledger.read_audit.entries(school)[-1].outcome == "refused"
    rector = {"BTI_PERSON": RECTOR.person, "BTI_ROLE": "leader", "BTI_SERVICE": "skole",
              "BTI_UNIT": RECTOR.unit}
    listed = CliRunner().invoke(build_app(), ["--db", database_url, "reminders", "--json"],
                                env=rector)
    assert listed.exit_code == 0, listed.output
    assert {row["case_id"] for row in orjson.loads(listed.output)} == {str(school)}


# ---- replay never reminds -------------------------------------------------------------


def issued_count(ledger: CaseLedger) -> int:
    return sum(1 for e in ledger.all_events() if isinstance(e, ReminderIssued))


def test_a_rebuild_of_the_projections_issues_and_delivers_nothing(
    ledger: CaseLedger, database_url: str, clock: SetClock
) -> None:
    register_s12_undring(ledger, clock)
    clock.advance(days=8)
    with running_daemon(database_url, clock) as daemon:
        daemon.tick()
        before = issued_count(ledger)
        rebuilt = CliRunner().invoke(build_app(), ["--db", database_url, "rebuild"])
        assert rebuilt.exit_code == 0, rebuilt.output
        assert issued_count(ledger) == before
        report = daemon.tick()
    assert report.issued is not None and report.issued.issued == 0
    assert report.delivered is not None and report.delivered.delivered == 0
    assert issued_count(ledger) == before > 0


def test_an_import_of_old_events_issues_and_delivers_no_reminder(
    ledger: CaseLedger, database_url: str, other_database_url: str, clock: SetClock
) -> None:
    case_id = register_s12_undring(ledger, clock)
    clock.advance(days=8)
    with running_daemon(database_url, clock) as daemon:
        daemon.issuer.issue(clock.now)  # issued, never delivered: the export carries them so
    exported = list(export_events(ledger))
    issued_before = issued_count(ledger)

    with CaseLedger.create(other_database_url, actor=RECTOR, clock=clock, reader=TILSYN) as other:
        pass
    with CaseLedger.open(other_database_url, clock=clock, reader=TILSYN) as other:
        lines = [(n, line, len(line)) for n, line in enumerate(exported[1:], start=1)]
        import_events(other, lines)
        assert issued_count(other) == issued_before
        with running_daemon(other_database_url, clock) as daemon:
            report = daemon.tick()
        assert report.issued is not None and report.issued.issued == 0
        # the deadline projection knows them from the case: not even read again
        assert (report.issued.duplicates, report.issued.seen_before) == (0, 0)
        assert issued_count(other) == issued_before
        assert report.delivered is not None and report.delivered.delivered == 0
        assert outcomes(other, case_id) == []
        listed = CliRunner().invoke(build_app(), ["--db", other_database_url, "reminders"])
        assert "Ingen påminnelser." in listed.output


def test_reminder_ids_are_the_same_in_every_ledger(
    ledger: CaseLedger, database_url: str, clock: SetClock
) -> None:
    case_id = register_s12_undring(ledger, clock)
    with running_daemon(database_url, clock) as daemon:
        daemon.tick()
    (reminder,) = reminders(ledger, case_id)
    assert reminder.event_id == reminder_id(reminder.deadline_id, reminder.stage)
