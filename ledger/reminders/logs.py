"""Structured log lines: one JSON object per line, with a name for what happened and its facts.

    {"ts": "2026-03-02T08:00:00.123Z", "level": "info", "event": "reminder_issued",
     "case_id": "…", "rule": "s12_innkalling", "stage": "due", "late_by_seconds": null}

`ts` is the machine's time of the line; a field `now` is the daemon's clock where it matters
(tests set it). The lines carry ids, rules and counts, never what a case says about a child.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO
from uuid import UUID

import orjson

LOGGER_NAME = "bti.daemon"
log = logging.getLogger(LOGGER_NAME)


def note(event: str, /, *, level: int = logging.INFO, exc_info: bool = False, **facts: Any) -> None:
    """Log one structured line named `event` with `facts` (and the exception being handled)."""
    log.log(level, event, exc_info=exc_info, extra={"facts": facts})


class JsonLines(logging.Formatter):
    """Formats a record as one JSON object; an exception goes in as `error` and `traceback`."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "level": record.levelname.lower(),
            "event": record.getMessage(),
            **getattr(record, "facts", {}),
        }
        if record.exc_info and record.exc_info[1] is not None:
            line["error"] = f"{type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
            line["traceback"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=_plain).decode()


def _plain(value: Any) -> Any:
    if isinstance(value, UUID | datetime):
        return value.isoformat() if isinstance(value, datetime) else str(value)
    return str(value)


def log_to(stream: TextIO = sys.stderr, level: int = logging.INFO) -> logging.Handler:
    """Send the daemon's lines to `stream` (standard error by default); returns the handler."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLines())
    log.addHandler(handler)
    log.setLevel(level)
    log.propagate = False
    return handler
