"""Stopping long-running work gracefully: SIGTERM or SIGINT set an event the work checks."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def stop_on_signals(
    on_signal: Callable[[str], None] | None = None,
) -> Iterator[threading.Event]:
    """An event that SIGTERM or SIGINT sets (after `on_signal(name)`, if given); the previous
    handlers come back afterwards."""
    stop = threading.Event()

    def handler(signum: int, frame: object) -> None:
        if on_signal is not None:
            on_signal(signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
