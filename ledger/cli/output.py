"""What `bti` prints: catalogue texts, consoles, JSON, Oslo local time, and refusals."""

import sys
from datetime import date, datetime
from typing import Any

import orjson
import typer
from pydantic import ValidationError
from rich.console import Console

from ledger import messages
from ledger.application import invalid_input
from ledger.errors import ImportRejected, LedgerError
from ledger.policies.calendar import OSLO
from ledger.policies.rulebook import RulebookInvalid, RulebookNotFound


class CommandRefused(LedgerError):
    """The command line itself is not usable (no actor, bad JSON, a file that cannot be read)."""

    kind = "cli.error"


def t(key: str, **params: object) -> str:
    """A text from the catalogue's `cli.` section."""
    return messages.text(f"cli.{key}", **params)


def label(event_type: str) -> str:
    """The plain-words label of an event type."""
    return messages.text(f"label.{event_type}")


def stdout_console() -> Console:
    """A console on the current standard output (tests swap it), wide when piped."""
    # markup off: what people wrote ("[sic]") and error codes ("[code]") print as written.
    return Console(
        highlight=False, markup=False, width=None if sys.stdout.isatty() else 160
    )


def stderr_console() -> Console:
    """A console on the current standard error, for progress and notes; wide when piped."""
    return Console(
        stderr=True, highlight=False, markup=False, width=None if sys.stderr.isatty() else 160
    )


def print_json(value: Any) -> None:
    """Print `value` as indented JSON (UUIDs, dates and models included)."""
    typer.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2, default=_jsonable).decode())


def _jsonable(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    raise TypeError


def local_time(moment: datetime | None) -> str:
    """A moment as people in the municipality read it: Europe/Oslo local time."""
    if moment is None:
        return t("word.none")
    return moment.astimezone(OSLO).strftime("%Y-%m-%d %H:%M")


def word(value: object) -> str:
    """A value as a short text for a table cell."""
    if value is None or value in ((), [], ""):
        return t("word.none")
    if isinstance(value, bool):
        return t("word.yes") if value else t("word.no")
    if isinstance(value, datetime):
        return local_time(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(word(v) for v in value)
    if isinstance(value, dict):
        return orjson.dumps(value, default=str).decode()
    return str(value)


def report_error(error: LedgerError, json_output: bool) -> None:
    """One clear sentence to stderr (or the error's JSON); an import lists every line."""
    if json_output:
        typer.echo(orjson.dumps(error.as_dict(), default=str).decode(), err=True)
        return
    typer.echo(str(error), err=True)
    if isinstance(error, ImportRejected):
        for problem in error.problems:
            typer.echo(t("import.problem", **problem.__dict__), err=True)


def as_ledger_error(error: Exception) -> LedgerError | None:
    """The ledger's own error for anything bad input can raise, else None."""
    if isinstance(error, LedgerError):
        return error
    if isinstance(error, RulebookNotFound):
        return LedgerError("rulebook_not_found", name=error.name, known=", ".join(error.shipped))
    if isinstance(error, RulebookInvalid):
        return LedgerError(
            "rulebook_invalid", origin=error.origin, problems="; ".join(error.problems)
        )
    if isinstance(error, ValidationError):
        return invalid_input(error)
    if isinstance(error, OSError) and not isinstance(error, BrokenPipeError):
        return CommandRefused(
            "file_problem", path=error.filename or "-", reason=error.strerror or str(error)
        )
    return None
