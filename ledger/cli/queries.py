"""`bti deadlines` and `bti stafett`: what falls due, and who holds which case."""

import re
from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table

from ledger import messages
from ledger.application import parse_uuid
from ledger.cli.output import CommandRefused, local_time, print_json, stdout_console, t
from ledger.cli.session import opened, parse_time, session_of
from ledger.policies.deadlines import Deadline
from ledger.projections.stafett import StafettRow
from replay import asof

_WINDOW = re.compile(r"^\s*(\d+)\s*([hdw])\s*$", re.IGNORECASE)
_WINDOW_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


def parse_window(value: str) -> timedelta:
    """A time span typed as hours, days or weeks: `48h`, `7d`, `2w`."""
    found = _WINDOW.match(value)
    if found is None:
        raise CommandRefused("window_invalid", value=value)
    amount, unit = int(found.group(1)), _WINDOW_UNITS[found.group(2).lower()]
    return timedelta(**{unit: amount})


def overdue(deadline: Deadline) -> bool:
    """Missed and still not done (as judged now): the rows people must see first."""
    return deadline.state == "missed" and deadline.met_by is None


def state_word(deadline: Deadline) -> str:
    """A deadline's state in plain words (a missed one done late says so)."""
    if deadline.met_late:
        return t("deadline_state.met_late", at=local_time(deadline.met_at))
    return t(f"deadline_state.{deadline.state}")


def deadlines_table(deadlines: list[Deadline], *, with_case: bool = True) -> Table:
    """Deadlines by due date in Oslo time; overdue rows stand out."""
    table = Table()
    columns = ["due", "rule", "state"]
    if with_case:
        columns += ["case_id", "unit", "holder"]
    for key in columns:
        table.add_column(t(f"column.{key}"), no_wrap=key in ("due", "case_id"))
    for d in deadlines:
        cells = [local_time(d.due_at), messages.text(f"deadline.{d.rule}"), state_word(d)]
        if with_case:
            cells += [str(d.case_id), d.unit, d.holder or t("word.none")]
        table.add_row(*cells, style="bold red" if overdue(d) else None)
    return table


def stafett_table(rows: list[StafettRow]) -> Table:
    """Open cases with their holder and the handover waiting, if any."""
    table = Table()
    for key in ("case_id", "child_ref", "unit", "level", "holder", "handover_to", "since"):
        table.add_column(t(f"column.{key}"), no_wrap=key == "case_id")
    for r in rows:
        holder = f"{r.holder} ({r.holder_service})" if r.holder else t("word.none")
        table.add_row(
            str(r.case_id), r.child_ref, r.unit, str(r.level), holder,
            r.pending_to or t("word.none"),
            local_time(r.pending_since) if r.pending_since else t("word.none"),
        )
    return table


def print_stafett(rows: list[StafettRow], person: str | None) -> None:
    """Every open case's baton, or one person's: the cases they hold and those waiting."""
    console = stdout_console()
    if person is None:
        if not rows:
            console.print(t("stafett.empty"))
            return
        console.print(stafett_table(rows))
        console.print(t("stafett.count", count=len(rows)))
        return
    for title, chosen in (
        ("stafett.holds", [r for r in rows if r.holder == person]),
        ("stafett.waiting", [r for r in rows if r.pending_to == person]),
    ):
        console.print(t(title, person=person, count=len(chosen)), style="bold")
        if chosen:
            console.print(stafett_table(chosen))


def register(app: typer.Typer) -> None:
    """Add `bti deadlines` and `bti stafett` to the root command."""
    json_option = Annotated[bool, typer.Option("--json", help=t("help.json"))]

    @app.command("deadlines", help=t("help.deadlines"))
    def deadlines(
        ctx: typer.Context,
        *,
        due_within: Annotated[
            str | None, typer.Option("--due-within", help=t("help.due_within"))
        ] = None,
        unit: Annotated[
            str | None, typer.Option("--unit", help=t("help.deadlines_unit"))
        ] = None,
        holder: Annotated[str | None, typer.Option("--holder", help=t("help.holder"))] = None,
        case: Annotated[str | None, typer.Option("--case", help=t("help.deadlines_case"))] = None,
        overdue_only: Annotated[
            bool, typer.Option("--overdue", help=t("help.overdue"))
        ] = False,
        include_closed: Annotated[
            bool, typer.Option("--all", help=t("help.deadlines_all"))
        ] = False,
        as_of: Annotated[str | None, typer.Option("--as-of", help=t("help.as_of"))] = None,
        json_output: json_option = False,
    ) -> None:
        session = session_of(ctx)
        session.json_output = json_output
        window = parse_window(due_within) if due_within is not None else None
        case_id = parse_uuid(case, "case") if case is not None else None
        moment = parse_time(as_of, "as_of")
        with opened(session) as ledger:
            if moment is None:
                found = ledger.deadlines(
                    due_within=window, unit=unit, holder=holder, case_id=case_id,
                    overdue=overdue_only, include_closed=include_closed,
                )
            else:
                found = [
                    d for d in asof.all_deadlines_as_of(
                        ledger, moment, unit=unit, holder=holder, include_closed=include_closed
                    )
                    if case_id is None or d.case_id == case_id
                ]
        if json_output:
            print_json([d.model_dump(mode="json") for d in found])
            return
        console = stdout_console()
        if not found:
            console.print(t("deadlines.empty"))
            return
        console.print(deadlines_table(found))
        console.print(t("deadlines.count", count=len(found),
                        overdue=sum(1 for d in found if overdue(d))))

    @app.command("stafett", help=t("help.stafett"))
    def stafett(
        ctx: typer.Context,
        person: Annotated[str | None, typer.Option("--person", help=t("help.person"))] = None,
        json_output: json_option = False,
    ) -> None:
        session = session_of(ctx)
        session.json_output = json_output
        with opened(session) as ledger:
            rows = ledger.stafett(person)
        if json_output:
            print_json([r.model_dump(mode="json") for r in rows])
            return
        print_stafett(rows, person)
