"""`bti access log ID`: who read a case, when, what and why (the read audit)."""

from typing import Annotated

import typer
from rich.table import Table

from ledger.access_log import AccessLogEntry
from ledger.cli.output import local_time, print_json, stdout_console, t
from ledger.cli.session import opened, session_of


def access_log_table(entries: list[AccessLogEntry]) -> Table:
    """The entries in order: when (Oslo time), who, what, why, and the outcome with its code."""
    table = Table()
    for key in ("at", "who", "what", "purpose", "outcome"):
        table.add_column(t(f"access_log.column.{key}"), no_wrap=key == "at")
    for e in entries:
        outcome = t(f"access_log.outcome.{e.outcome}")
        table.add_row(
            local_time(e.at), f"{e.person}\n({e.role}, {e.service}, {e.unit})", e.what,
            e.purpose or t("word.none"), f"{outcome} [{e.code}]" if e.code else outcome,
        )
    return table


def register(app: typer.Typer) -> None:
    """Add `bti access log` to the root command."""
    access = typer.Typer(help=t("help.access"), no_args_is_help=True)

    @access.command("log", help=t("help.access_log"))
    def log(
        ctx: typer.Context,
        case_id: Annotated[str, typer.Argument(help=t("help.case_id"), show_default=False)],
        json_output: Annotated[bool, typer.Option("--json", help=t("help.json"))] = False,
    ) -> None:
        session = session_of(ctx)
        session.json_output = json_output
        with opened(session) as ledger:
            entries = ledger.access_log(case_id)
        if json_output:
            print_json([e.as_dict() for e in entries])
            return
        console = stdout_console()
        if not entries:
            console.print(t("access_log.empty"))
            return
        console.print(access_log_table(entries))
        console.print(t("access_log.count", count=len(entries)))

    app.add_typer(access, name="access")
