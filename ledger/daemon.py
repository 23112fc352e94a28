"""The reminder daemon: on an interval (and at start-up) it issues the reminders that are due
and delivers what its outbox holds.

    daemon = open_daemon(url, config, clock)     # everything is built here, nothing at import
    daemon.tick()                                # one round: issue, then deliver (`--once`)
    daemon.run(stop)                             # APScheduler until `stop` is set

Two jobs run on one APScheduler BackgroundScheduler with a single worker, so they never
overlap: *remind* (issue, then deliver) at start-up and every `interval` (default 5
minutes), and *deliver* every `delivery.poll` (default 30 seconds) for retries. Each round
first takes the firer lock (ledger/reminders/firing.py); a daemon that does not get it leaves
the round to the one that has it. APScheduler's misfire handling is not relied on: what was
missed is found again from the ledger at the next round, because the ledger's events are the
truth (a reminder's id is derived from its deadline and stage).

A stop (SIGTERM, SIGINT) lets the round under way finish, then the daemon exits. The clock
is injected: the tests pass one they set, `bti daemon --now` reads one from a file.

Replaying never reminds: only this daemon records ReminderIssued, and only reminders it put
in its own outbox are delivered, so `bti rebuild`, `bti import`, replay and `--as-of`
queries never issue or deliver one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from pydantic import TypeAdapter, ValidationError

from ledger import signals
from ledger.application import CaseLedger, Clock, system_clock
from ledger.errors import LedgerError
from ledger.events import Actor
from ledger.reminders.channels import Channel, build_channels
from ledger.reminders.config import DaemonConfig
from ledger.reminders.delivery import Deliverer, DeliveryReport
from ledger.reminders.firing import FirerLock, firer_lock
from ledger.reminders.issuing import Issuer, IssueReport, catch_up
from ledger.reminders.logs import note
from ledger.reminders.outbox import Outbox
from ledger.store import redact, resolve_url

ON_TIME_SLACK = timedelta(minutes=1)
"""A reminder issued within one interval and this much of its stage is on time, not late."""

_MOMENT = TypeAdapter(datetime)


@dataclass(frozen=True)
class RoundReport:
    """What one round did; `skipped` when another daemon held the lock."""

    now: datetime
    skipped: bool = False
    issued: IssueReport | None = None
    delivered: DeliveryReport | None = None


class ReminderDaemon:
    """Issues due reminders and delivers them, one round at a time, one daemon at a time."""

    def __init__(
        self,
        ledger: CaseLedger,
        config: DaemonConfig,
        lock: FirerLock,
        channels: Mapping[str, Channel],
        clock: Clock,
        *,
        url: str = "-",
    ) -> None:
        self.ledger = ledger
        self.url = redact(url)
        self.config = config
        self.lock = lock
        self.channels = channels
        self.clock = clock
        self.outbox = Outbox(ledger.read_models.db)
        settings = config.daemon
        actor = Actor(
            person=settings.person, role="system", service=settings.service, unit=settings.unit
        )
        self.issuer = Issuer(
            ledger, self.outbox, actor, list(channels), settings.interval + ON_TIME_SLACK
        )
        self.deliverer = Deliverer(
            ledger, self.outbox, channels, settings=config.delivery, actor=actor,
            look_again_after=settings.interval,
        )
        self._working = threading.Lock()

    def tick(self) -> RoundReport:
        """One round: issue what is due, then deliver what the outbox holds."""
        return self._round(issue=True)

    def deliver(self) -> RoundReport:
        """A round of delivery only (retries between ticks)."""
        return self._round(issue=False)

    def _round(self, *, issue: bool) -> RoundReport:
        with self._working:
            now = self.clock()
            if not self.lock.acquire():
                note("round_skipped", reason="another daemon is working", now=now)
                return RoundReport(now, skipped=True)
            try:
                issued = self.issuer.issue(now) if issue else None
                delivered = self.deliverer.deliver(self.clock())
                catch_up(self.ledger)
            finally:
                self.lock.release()
            facts: dict[str, Any] = {"now": now, "delivery": asdict(delivered)}
            if issued is not None:
                facts["issue"] = asdict(issued)
            note("tick_done" if issue else "delivery_done", **facts)
            return RoundReport(now, issued=issued, delivered=delivered)

    def run(self, stop: threading.Event) -> None:
        """Run both jobs until `stop` is set; the round under way then finishes."""
        settings = self.config
        scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC,
        )
        scheduler.add_job(
            _guarded(self.tick, "tick_failed"), "interval", id="remind",
            seconds=settings.daemon.interval.total_seconds(), next_run_time=datetime.now(UTC),
        )
        scheduler.add_job(
            _guarded(self.deliver, "delivery_failed"), "interval", id="deliver",
            seconds=settings.delivery.poll.total_seconds(),
        )
        scheduler.start()
        note("daemon_started", url=self.url, channels=list(self.channels),
             interval_seconds=settings.daemon.interval.total_seconds())
        stop.wait()
        note("daemon_stopping")
        scheduler.shutdown(wait=True)
        note("daemon_stopped")

    def close(self) -> None:
        """Close the channels, give up the lock, close the ledger."""
        for channel in self.channels.values():
            channel.close()
        self.lock.close()
        self.ledger.close()


def _guarded(job: Callable[[], object], failure: str) -> Callable[[], None]:
    """A job whose error is logged, never raised into the scheduler: the next round tries again."""

    def run() -> None:
        try:
            job()
        except Exception:
            note(failure, level=logging.ERROR, exc_info=True)

    return run


def open_daemon(url: str | None, config: DaemonConfig, clock: Clock = system_clock) -> ReminderDaemon:
    """Build the daemon for the ledger at `url`: the lock first, so a second one stops at once."""
    url = resolve_url(url)
    lock = firer_lock(url)
    try:
        ledger = CaseLedger.open(url, clock=clock, inline_projections=False)
    except BaseException:
        lock.close()
        raise
    try:
        channels = build_channels(config)
        daemon = ReminderDaemon(ledger, config, lock, channels, clock, url=url)
        daemon.outbox.setup()
    except BaseException:
        lock.close()
        ledger.close()
        raise
    return daemon


def stop_on_signals() -> AbstractContextManager[threading.Event]:
    """An event that SIGTERM or SIGINT sets, noting the signal in the daemon's log."""
    return signals.stop_on_signals(lambda name: note("signal_received", signal=name))


def clock_from(spec: str) -> Clock:
    """For tests only (`bti daemon --now`): a fixed ISO 8601 moment, or `@FILE` holding one,
    read again each time the clock is asked, so a test can move a running daemon's time."""
    if spec.startswith("@"):
        path = Path(spec[1:])

        def from_file() -> datetime:
            try:
                value = path.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError):
                raise LedgerError("daemon_clock_invalid", value=spec) from None
            return _moment(value, spec)

        from_file()  # a file that cannot be read is refused at start, not at the first tick
        return from_file
    fixed = _moment(spec, spec)
    return lambda: fixed


def _moment(value: str, spec: str) -> datetime:
    try:
        moment = _MOMENT.validate_python(value)
    except ValidationError:
        raise LedgerError("daemon_clock_invalid", value=spec) from None
    if moment.tzinfo is None:
        raise LedgerError("daemon_clock_invalid", value=spec)
    return moment
