"""`bti daemon` (the reminder daemon) and `bti reminders` (what it issued and delivered)."""

import sys
from itertools import groupby
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ledger import messages
from ledger.application import parse_uuid, system_clock
from ledger.cli.output import local_time, print_json, stdout_console, t, word
from ledger.cli.session import opened, session_of
from ledger.daemon import clock_from, open_daemon, stop_on_signals
from ledger.errors import LedgerError
from ledger.reminders.config import load_config, parse_duration
from ledger.reminders.logs import log_to
from ledger.reminders.outbox import OutboxRow


def register(app: typer.Typer) -> None:
    """Add `bti daemon` and `bti reminders` to the root command."""
    app.command("daemon", help=t("daemon.help"))(daemon_command)
    app.command("reminders", help=t("reminders.help"))(reminders_command)


def daemon_command(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help=t("daemon.help_once"))] = False,
    interval: Annotated[
        str | None, typer.Option("--interval", help=t("daemon.help_interval"), show_default=False)
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help=t("daemon.help_config"), show_default=False)
    ] = None,
    now: Annotated[
        str | None,
        typer.Option("--now", envvar="BTI_DAEMON_NOW", help=t("daemon.help_now"), hidden=True),
    ] = None,
) -> None:
    """Run the reminder daemon (or one round of it with `--once`)."""
    session = session_of(ctx)
    settings = load_config(config).with_interval(_interval(interval))
    clock = clock_from(now) if now else system_clock
    log_to(sys.stderr)
    daemon = open_daemon(session.db, settings, clock)
    try:
        if once:
            report = daemon.tick()
            if report.skipped:
                typer.echo(t("daemon.skipped"), err=True)
            elif report.issued is not None and report.delivered is not None:
                typer.echo(t("daemon.done", **vars(report.issued), **vars(report.delivered)),
                           err=True)
            return
        with stop_on_signals() as stop:
            daemon.run(stop)
    finally:
        daemon.close()


def _interval(value: str | None) -> Any:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError:
        raise LedgerError("daemon_interval_invalid", value=value) from None


def reminders_command(
    ctx: typer.Context,
    case: Annotated[
        str | None, typer.Option("--case", help=t("reminders.help_case"), show_default=False)
    ] = None,
    pending: Annotated[bool, typer.Option("--pending", help=t("reminders.help_pending"))] = False,
    json_output: Annotated[bool, typer.Option("--json", help=t("help.json"))] = False,
) -> None:
    """List the reminders the daemon issued, one line per channel, and their delivery."""
    session = session_of(ctx)
    session.json_output = json_output
    case_id = parse_uuid(case, "case") if case else None
    with opened(session) as ledger:
        rows = ledger.reminders(case_id, undelivered=pending)
    if json_output:
        print_json([_as_json(row) for row in rows])
        return
    if not rows:
        typer.echo(t("reminders.empty"))
        return
    console = stdout_console()
    for case_id, in_case in groupby(rows, key=lambda row: row.case_id):
        console.print(t("reminders.case", case_id=case_id), style="bold")
        table = Table()
        for key in ("duty", "stage", "due_at", "to", "issued_at", "channel", "status"):
            table.add_column(t(f"reminders.column.{key}"))
        for row in in_case:
            table.add_row(
                messages.text(f"deadline.{row.rule}"), t(f"reminders.stage.{row.stage}"),
                local_time(row.due_at), word(row.recipients), _issued(row), row.channel,
                _status(row),
            )
        console.print(table)


def _issued(row: OutboxRow) -> str:
    issued = local_time(row.issued_at)
    if row.late_by_seconds is None:
        return issued
    return issued + " (" + t("reminders.late", hours=round(row.late_by_seconds / 3600, 1)) + ")"


def _status(row: OutboxRow) -> str:
    return t(
        f"reminders.status.{row.status}", attempts=row.attempts,
        delivered_at=local_time(row.delivered_at), error=row.last_error or "-",
    )


def _as_json(row: OutboxRow) -> dict[str, Any]:
    return {
        "reminder_event_id": str(row.reminder_id),
        "case_id": str(row.case_id),
        "deadline_id": row.deadline_id,
        "rule": row.rule,
        "stage": row.stage,
        "due_at": row.due_at.isoformat(),
        "to": list(row.recipients),
        "late_by_seconds": row.late_by_seconds,
        "issued_at": row.issued_at.isoformat() if row.issued_at else None,
        "channel": row.channel,
        "status": row.status,
        "attempts": row.attempts,
        "next_attempt_at": row.next_attempt_at.isoformat() if row.next_attempt_at else None,
        "delivered_at": row.delivered_at.isoformat() if row.delivered_at else None,
        "last_error": row.last_error,
    }
