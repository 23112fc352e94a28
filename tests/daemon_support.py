"""What the reminder daemon's tests share: a webhook receiver and an SMTP server on
127.0.0.1, the daemon run as a real process, and reading reminders back from a case."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
from aiosmtpd.controller import Controller

from ledger.application import CaseLedger
from ledger.daemon import ReminderDaemon, open_daemon
from ledger.events import CaseEvent, ReminderDelivered, ReminderDeliveryFailed, ReminderIssued
from ledger.reminders.config import DaemonConfig, parse_config
from tests.cast import SetClock

ROOT = Path(__file__).resolve().parent.parent


# ---- reading the case back --------------------------------------------------------------


def reminders(ledger: CaseLedger, case_id: UUID) -> list[ReminderIssued]:
    """The case's ReminderIssued events, in the order they were recorded."""
    return [e for e in ledger.history(case_id) if isinstance(e, ReminderIssued)]


def stages(ledger: CaseLedger, case_id: UUID) -> list[tuple[str, str]]:
    """(rule, stage) of each reminder of the case, in the order they were issued."""
    return [(r.rule, r.stage) for r in reminders(ledger, case_id)]


def outcomes(ledger: CaseLedger, case_id: UUID) -> list[CaseEvent]:
    """The case's ReminderDelivered and ReminderDeliveryFailed events, in order."""
    kinds = (ReminderDelivered, ReminderDeliveryFailed)
    return [e for e in ledger.history(case_id) if isinstance(e, kinds)]


def config(text: str = "") -> DaemonConfig:
    """A daemon configuration from TOML text (every default when empty)."""
    return parse_config(text, "test")


@contextmanager
def running_daemon(
    url: str, clock: SetClock, settings: DaemonConfig | None = None
) -> Iterator[ReminderDaemon]:
    """The daemon of the ledger at `url`, in this process, on the test's clock."""
    daemon = open_daemon(url, settings or config(), clock)
    try:
        yield daemon
    finally:
        daemon.close()


# ---- a webhook receiver -----------------------------------------------------------------


@dataclass
class Delivery:
    """One POST the receiver got."""

    idempotency_key: str
    body: dict[str, Any]
    answered: int


@dataclass
class WebhookReceiver:
    """An HTTP server on 127.0.0.1 that fails the first `fail_first` requests with 503 and
    may hold requests until `release()`; it remembers every request it got."""

    fail_first: int = 0
    hold: bool = False
    received: list[Delivery] = field(default_factory=list)
    _released: threading.Event = field(default_factory=threading.Event)
    _arrived: threading.Condition = field(default_factory=threading.Condition)

    def release(self) -> None:
        """Let held requests (and every later one) be answered."""
        self.hold = False
        self._released.set()

    def wait_for(self, count: int, timeout: float = 20.0) -> None:
        """Block until `count` requests have arrived."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.received) >= count, timeout):
                raise AssertionError(f"only {len(self.received)} of {count} webhook requests came")

    def _handle(self, key: str, body: bytes) -> int:
        with self._arrived:
            answer = 503 if len(self.received) < self.fail_first else 200
            self.received.append(Delivery(key, orjson.loads(body), answer))
            self._arrived.notify_all()
        if self.hold:
            self._released.wait(30)
        return answer

    @property
    def keys(self) -> list[str]:
        return [d.idempotency_key for d in self.received]

    @contextmanager
    def serving(self) -> Iterator[str]:
        """Serve until the block ends; yields the URL to POST to."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                answer = receiver._handle(self.headers.get("Idempotency-Key", ""), body)
                self.send_response(answer)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/bti"
        finally:
            self.release()
            server.shutdown()
            server.server_close()


# ---- an SMTP server ---------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class SmtpReceiver:
    """An SMTP server on 127.0.0.1 (aiosmtpd) that keeps every message it is handed."""

    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        message = BytesParser(policy=default_policy).parsebytes(envelope.content)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    @contextmanager
    def serving(self) -> Iterator[int]:
        """Serve until the block ends; yields the port."""
        controller = Controller(self, hostname="127.0.0.1", port=free_port())
        controller.start()
        try:
            yield controller.port
        finally:
            controller.stop()


# ---- the daemon as a real process -------------------------------------------------------

_BTI = [sys.executable, "-c", "from ledger.cli import main; main()"]


def process_env(**extra: str) -> dict[str, str]:
    """The environment of a `bti` process: this one's, without a database or language set."""
    env = {k: v for k, v in os.environ.items() if k not in ("BTI_DATABASE_URL", "BTI_LANGUAGE")}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def bti(url: str, *args: str, now: datetime | Path | None = None, timeout: float = 60,
        ) -> subprocess.CompletedProcess[str]:
    """Run `bti --db URL ARGS…` to its end; `now` is the daemon's clock (a moment or a file)."""
    return subprocess.run(
        [*_BTI, "--db", url, *args], env=process_env(**_now(now)), capture_output=True,
        text=True, timeout=timeout, check=False,
    )


def start_bti(url: str, *args: str, now: datetime | Path | None = None, log: Path,
              ) -> subprocess.Popen[bytes]:
    """Start `bti --db URL ARGS…` in the background, its standard error (the log) to `log`."""
    with log.open("ab") as stream:
        return subprocess.Popen(
            [*_BTI, "--db", url, *args], env=process_env(**_now(now)), stdout=subprocess.DEVNULL,
            stderr=stream,
        )


def _now(now: datetime | Path | None) -> dict[str, str]:
    if now is None:
        return {}
    return {"BTI_DAEMON_NOW": f"@{now}" if isinstance(now, Path) else now.isoformat()}


def log_lines(log: Path) -> list[dict[str, Any]]:
    """The structured lines a daemon wrote (anything else on standard error is skipped)."""
    found = []
    for line in log.read_text("utf-8").splitlines():
        if line.startswith("{"):
            found.append(orjson.loads(line))
    return found


def wait_until(condition: Callable[[], bool], timeout: float = 30.0, what: str = "it") -> None:
    """Poll `condition` until it holds, or fail naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def kill(process: subprocess.Popen[bytes], sig: signal.Signals = signal.SIGKILL) -> int:
    """Send `sig` and wait for the process to end; returns its exit code."""
    process.send_signal(sig)
    return process.wait(timeout=30)


def set_clock_file(path: Path, moment: datetime) -> None:
    """Move a running daemon's clock (`--now @FILE`): written whole, then renamed over."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(moment.isoformat(), encoding="utf-8")
    partial.replace(path)


def after(moment: datetime, **delta: float) -> datetime:
    return moment + timedelta(**delta)
