"""`bti import`, `bti export` and `bti schema`: the ledger in its public JSON shape."""

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from ledger.application import CaseLedger, parse_uuid, system_clock
from ledger.cli.output import print_json, stderr_console, t
from ledger.cli.session import Session, opened, session_of
from ledger.errors import LedgerError, LedgerNotFound
from ledger.events import ACTIONS, EVENT_TYPES
from ledger.store import open_store, resolve_url
from ledger.transfer import ImportReport, import_events, import_into, read_lines


def import_file(session: Session, path: Path) -> ImportReport:
    """Check and store a JSONL file, with a progress bar on stderr (by bytes read)."""
    total = path.stat().st_size
    last_size = [0]

    def lines() -> Iterator[tuple[int, bytes | None, int]]:
        for item in read_lines(path):
            last_size[0] = item[2]
            yield item

    columns = (TextColumn("{task.description}"), BarColumn(), TimeRemainingColumn())
    console = stderr_console()
    with Progress(
        *columns, console=console, transient=True, disable=not console.is_terminal
    ) as progress:
        task = progress.add_task(t("import.reading"), total=total)

        def advance(count: int) -> None:
            progress.advance(task, last_size[0] * count)

        try:
            with opened(session) as ledger:
                return import_events(ledger, lines(), progress=advance)
        except LedgerNotFound:
            # An empty database: the file (an export) begins the ledger with its rulebook.
            store = open_store(resolve_url(session.db))
            try:
                return import_into(store, system_clock(), lines(), progress=advance)
            finally:
                store.close()


def export_to(ledger: CaseLedger, case_id: UUID | None, output: Path | None) -> int:
    """Write the events as JSONL to stdout or to `output` (whole, or not at all).

    An export reads the cases: each is checked and logged (`CaseLedger.export_case`,
    `CaseLedger.export_all`).
    """
    lines = ledger.export_case(case_id) if case_id is not None else ledger.export_all()
    count = 0
    if output is None:
        stream = typer.get_binary_stream("stdout")
        for line in lines:
            stream.write(line + b"\n")
            count += 1
        stream.flush()
        return count
    partial = output.with_name(output.name + ".partial")
    with partial.open("wb") as target:
        for line in lines:
            target.write(line + b"\n")
            count += 1
    partial.replace(output)
    return count


def register(app: typer.Typer) -> None:
    """Add `bti import`, `bti export` and `bti schema` to the root command."""

    @app.command("import", help=t("help.import"))
    def import_command(
        ctx: typer.Context,
        file: Annotated[Path, typer.Argument(help=t("help.import_file"), show_default=False)],
        json_output: Annotated[bool, typer.Option("--json", help=t("help.json"))] = False,
    ) -> None:
        session = session_of(ctx)
        session.json_output = json_output
        report = import_file(session, file)
        if json_output:
            print_json(report.__dict__)
            return
        typer.echo(t("import.done", **report.__dict__))

    @app.command("export", help=t("help.export"))
    def export_command(
        ctx: typer.Context,
        case: Annotated[str | None, typer.Option("--case", help=t("help.export_case"))] = None,
        output: Annotated[
            Path | None, typer.Option("--output", help=t("help.export_output"))
        ] = None,
    ) -> None:
        session = session_of(ctx)
        case_id = parse_uuid(case, "case") if case else None
        with opened(session) as ledger:
            # export_case refuses an unknown case, not exported as nothing
            count = export_to(ledger, case_id, output)
        if output is not None:
            typer.echo(t("export.done", count=count, path=output), err=True)

    @app.command("schema", help=t("help.schema"))
    def schema(
        event_type: Annotated[
            str | None, typer.Argument(help=t("help.schema_type"), show_default=False)
        ] = None,
    ) -> None:
        if event_type is None:
            print_json({name: cls.model_json_schema() for name, cls in EVENT_TYPES.items()})
            return
        cls = EVENT_TYPES.get(event_type) or ACTIONS.get(event_type)
        if cls is None:
            raise LedgerError("unknown_event_type", type=event_type)
        print_json(cls.model_json_schema())
