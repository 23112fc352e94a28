"""`bti timeline`, `verify`, `keys generate`, `checkpoint create|verify`, `report case|stats`.

Reading history for tilsyn and the BTI coordinator; everything here only reads (the
`replay` package), nothing records an event. `bti verify` and `bti checkpoint verify` exit
with 1 when the chain is broken or the checkpoint does not hold, naming the first place.
"""

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ledger import messages
from ledger.application import parse_uuid, system_clock
from ledger.cli.output import CommandRefused, print_json, stderr_console, stdout_console, t
from ledger.cli.session import opened, session_of
from replay.checkpoint import (
    CheckpointCheck,
    check_checkpoint,
    create_checkpoint,
    generate_keys,
    load_private_key,
    load_public_key,
    read_checkpoint,
    write_checkpoint,
)
from replay.report import build_report, render_html, render_pdf
from replay.stats import build_statistics, write_csv
from replay.timeline import Timeline, case_timeline, when
from replay.verify import Verification, verify

ProgressHooks = tuple[Callable[[int], None], Callable[[int], None]]


def a(key: str, **params: object) -> str:
    """A text from the catalogue's `audit.` section."""
    return messages.text(f"audit.{key}", **params)


@contextmanager
def progress_bar(description: str) -> Iterator[ProgressHooks]:
    """A progress bar on stderr: yields (set the total, advance by n)."""
    console = stderr_console()
    columns = (TextColumn("{task.description}", markup=False), BarColumn(bar_width=30),
               MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True,
                  disable=not console.is_terminal) as progress:
        task = progress.add_task(description, total=None)
        yield (lambda total: progress.update(task, total=total),
               lambda count: progress.advance(task, count))


# ---- printing ----------------------------------------------------------------------------


def print_timeline(timeline: Timeline) -> None:
    console = stdout_console()
    header = t("audit.timeline_header", case=timeline.case_id, child=timeline.child_ref,
               unit=timeline.unit, service=timeline.service,
               status=t(f"status.{timeline.status}"), level=timeline.level,
               holder=timeline.holder or t("word.none"))
    console.print(header, style="bold")
    for e in timeline.entries:
        console.print()
        console.print(f"#{e.sequence:<3} {e.label}", style="bold")
        console.print("     " + t("audit.timeline_when", occurred=when(e.occurred_at),
                                   recorded=when(e.recorded_at), who=str(e.who)), style="dim")
        console.print("     " + e.summary, soft_wrap=True)
        if e.corrects:
            console.print("     " + t("audit.timeline_corrects", sequence=e.corrects),
                          style="yellow")
        for sequence in e.corrected_by:
            console.print("     " + t("audit.timeline_corrected_by", sequence=sequence),
                          style="yellow")
        if e.reminder_of:
            console.print("     " + t("audit.timeline_delivers", sequence=e.reminder_of))
        for sequence in e.deliveries:
            console.print("     " + t("audit.timeline_delivery", sequence=sequence))
        for note in e.meets:
            key = "audit.timeline_meets_late" if note.late else "audit.timeline_meets"
            console.print("     " + t(key, deadline=note.label, due=when(note.due_at)),
                          style="red" if note.late else "green")
    console.print()
    console.print(t("audit.timeline_deadlines"), style="bold")
    for d in timeline.deadlines:
        done = ""
        if d.met_by_sequence is not None:
            done = t("audit.timeline_done_by", sequence=d.met_by_sequence, at=when(d.met_at))
        elif d.cancelled_by_sequence is not None:
            done = t("audit.timeline_cancelled_by", sequence=d.cancelled_by_sequence,
                     why=messages.text(f"timeline.cancel_reason.{d.cancelled_reason}"))
        style = {"met": "green", "missed": "red", "met_late": "red"}.get(d.state)
        console.print(
            f"  {d.state_label:<26} {d.label} — "
            + t("audit.timeline_due", due=when(d.due_at), basis=d.basis_sequence)
            + (f" {done}" if done else ""),
            style=style, soft_wrap=True,
        )


def print_verification(result: Verification) -> None:
    console = stdout_console()
    problem = result.first_problem
    if problem is None:
        console.print(a("verify.ok", events=result.events, position=result.last_position),
                      style="bold green")
        console.print(a("verify.head", head=result.head.hex()))
        console.print(a("verify.truncation_note"), style="dim")
        return
    described = a(f"problem.{problem.kind}", position=problem.position)
    if problem.kind.startswith("checkpoint"):
        console.print(a("verify.checkpoint_broken", problem=described), style="bold red")
    else:
        console.print(a(
            "verify.broken", position=problem.position, problem=described,
            case=problem.case_id or "–", event_id=problem.event_id or "–",
            version=problem.version or "–",
        ), style="bold red", soft_wrap=True)
        if problem.found_event_id is not None:
            console.print(a("verify.found_instead", event_id=problem.found_event_id))
    if len(result.problems) > 1:
        console.print(a("verify.more", count=len(result.problems) - 1))


def print_checkpoint_check(check: CheckpointCheck) -> None:
    console = stdout_console()
    if not check.signature_valid:
        console.print(a("checkpoint.bad_signature"), style="bold red")
    if not check.same_ledger:
        console.print(a("checkpoint.other_ledger"), style="bold red")
    if check.ok:
        console.print(a("checkpoint.ok", events=check.checkpoint.events,
                        now=check.verification.events), style="bold green")
        return
    if check.signature_valid and check.same_ledger:
        print_verification(check.verification)


# ---- the commands ------------------------------------------------------------------------


JsonOption = Annotated[bool, typer.Option("--json", help=t("help.json"))]


def register(app: typer.Typer) -> None:
    """Add the audit commands to the root command."""
    add_timeline(app)
    add_verify(app)
    add_keys(app)
    add_checkpoint(app)
    add_report(app)


def add_timeline(app: typer.Typer) -> None:
    """`bti timeline ID [--json]`."""

    @app.command("timeline", help=t("help.audit.timeline"))
    def timeline(
        ctx: typer.Context,
        case_id: Annotated[str, typer.Argument(help=t("help.case_id"), show_default=False)],
        *,
        json_output: JsonOption = False,
    ) -> None:
        session = session_of(ctx)
        session.json_output = json_output
        with opened(session) as ledger:
            case_uuid = parse_uuid(case_id, "case_id")
            found = case_timeline(ledger.admit(case_uuid, "timeline"), case_uuid)
        if json_output:
            print_json(found.as_dict())
            return
        print_timeline(found)


def add_verify(app: typer.Typer) -> None:
    """`bti verify [--json]`."""

    @app.command("verify", help=t("help.audit.verify"))
    def verify_command(ctx: typer.Context, *, json_output: JsonOption = False) -> None:
        session = session_of(ctx)
        session.json_output = json_output
        with opened(session) as ledger, progress_bar(a("verify.reading")) as (total, advance):
            result = verify(ledger.store, progress=advance, total=total)
        if json_output:
            print_json(result.as_dict())
        else:
            print_verification(result)
        if not result.ok:
            raise typer.Exit(1)


def add_keys(app: typer.Typer) -> None:
    """`bti keys generate`."""
    keys = typer.Typer(help=t("help.audit.keys"), no_args_is_help=True)

    @keys.command("generate", help=t("help.audit.keys_generate"))
    def keys_generate(
        private_key: Annotated[
            Path, typer.Option("--private-key", help=t("help.audit.private_key_out"))
        ] = Path("bti-checkpoint.key"),
        public_key: Annotated[
            Path, typer.Option("--public-key", help=t("help.audit.public_key_out"))
        ] = Path("bti-checkpoint.pub"),
    ) -> None:
        key_id = generate_keys(private_key, public_key)
        stdout_console().print(a("keys.created", private=private_key, public=public_key,
                                 key_id=key_id), soft_wrap=True)

    app.add_typer(keys, name="keys")


def add_checkpoint(app: typer.Typer) -> None:
    """`bti checkpoint create|verify`."""
    checkpoint = typer.Typer(help=t("help.audit.checkpoint"), no_args_is_help=True)

    @checkpoint.command("create", help=t("help.audit.checkpoint_create"))
    def checkpoint_create(
        ctx: typer.Context,
        *,
        key: Annotated[Path, typer.Option("--key", help=t("help.audit.private_key_in"))] = Path(
            "bti-checkpoint.key"
        ),
        output: Annotated[
            Path | None, typer.Option("--output", help=t("help.audit.checkpoint_out"))
        ] = None,
        json_output: JsonOption = False,
    ) -> None:
        session = session_of(ctx)
        session.json_output = json_output
        private = load_private_key(key)
        now = system_clock()
        with opened(session) as ledger, progress_bar(a("verify.reading")) as (total, advance):
            made, _ = create_checkpoint(ledger.store, private, now, progress=advance, total=total)
        path = output or Path(f"bti-checkpoint-{now.strftime('%Y%m%dT%H%M%SZ')}.json")
        write_checkpoint(made, path)
        if json_output:
            print_json({"path": str(path), **made.__dict__})
            return
        stdout_console().print(a("checkpoint.created", path=path, events=made.events,
                                 head=made.head, key_id=made.key_id[:16]), soft_wrap=True)

    @checkpoint.command("verify", help=t("help.audit.checkpoint_verify"))
    def checkpoint_verify(
        ctx: typer.Context,
        file: Annotated[Path, typer.Argument(help=t("help.audit.checkpoint_file"),
                                             show_default=False)],
        *,
        public_key: Annotated[
            Path, typer.Option("--public-key", help=t("help.audit.public_key_in"))
        ] = Path("bti-checkpoint.pub"),
        json_output: JsonOption = False,
    ) -> None:
        session = session_of(ctx)
        session.json_output = json_output
        made, public = read_checkpoint(file), load_public_key(public_key)
        with opened(session) as ledger, progress_bar(a("verify.reading")) as (total, advance):
            check = check_checkpoint(ledger.store, made, public, progress=advance, total=total)
        if json_output:
            print_json(check.as_dict())
        else:
            print_checkpoint_check(check)
        if not check.ok:
            raise typer.Exit(1)

    app.add_typer(checkpoint, name="checkpoint")


def add_report(app: typer.Typer) -> None:
    """`bti report case ID` and `bti report stats`."""
    report = typer.Typer(help=t("help.audit.report"), no_args_is_help=True)

    @report.command("case", help=t("help.audit.report_case"))
    def report_case(
        ctx: typer.Context,
        case_id: Annotated[str, typer.Argument(help=t("help.case_id"), show_default=False)],
        *,
        fmt: Annotated[
            Literal["html", "pdf"], typer.Option("--format", help=t("help.audit.report_format"))
        ] = "html",
        output: Annotated[
            Path | None, typer.Option("--output", help=t("help.audit.report_out"))
        ] = None,
        checkpoint_file: Annotated[
            Path | None, typer.Option("--checkpoint", help=t("help.audit.report_checkpoint"))
        ] = None,
        public_key: Annotated[
            Path | None, typer.Option("--public-key", help=t("help.audit.public_key_in"))
        ] = None,
    ) -> None:
        session = session_of(ctx)
        case_uuid = parse_uuid(case_id, "case_id")
        if (checkpoint_file is None) != (public_key is None):
            raise CommandRefused("checkpoint_needs_key")
        with opened(session) as ledger, progress_bar(a("verify.reading")) as (total, advance):
            reading = ledger.admit(case_uuid, "report")  # checked and logged before any work
            check = None
            if checkpoint_file is not None and public_key is not None:
                check = check_checkpoint(ledger.store, read_checkpoint(checkpoint_file),
                                         load_public_key(public_key), progress=advance,
                                         total=total)
            made = build_report(reading, case_uuid, check)
        content = render_pdf(made) if fmt == "pdf" else render_html(made).encode("utf-8")
        path = output or Path(f"bti-report-{str(case_uuid)[:8]}.{fmt}")
        if str(path) == "-":
            sys.stdout.buffer.write(content)
            sys.stdout.flush()
            return
        path.write_bytes(content)
        typer.echo(t("audit.report_written", path=path), err=True)

    @report.command("stats", help=t("help.audit.report_stats"))
    def report_stats(
        ctx: typer.Context,
        *,
        start: Annotated[
            datetime | None,
            typer.Option("--from", formats=["%Y-%m-%d"], help=t("help.audit.stats_from")),
        ] = None,
        end: Annotated[
            datetime | None,
            typer.Option("--to", formats=["%Y-%m-%d"], help=t("help.audit.stats_to")),
        ] = None,
        unit: Annotated[str | None, typer.Option("--unit", help=t("help.unit"))] = None,
        fmt: Annotated[
            Literal["csv", "html"], typer.Option("--format", help=t("help.audit.stats_format"))
        ] = "csv",
        output: Annotated[
            Path | None, typer.Option("--output", help=t("help.audit.stats_out"))
        ] = None,
    ) -> None:
        # matplotlib is loaded only when a page is drawn: every other command starts faster.
        from replay.stats_html import render_stats_html  # noqa: PLC0415

        session = session_of(ctx)
        first: date | None = start.date() if start else None
        last: date | None = end.date() if end else None
        with opened(session) as ledger, progress_bar(messages.text("stats.reading")) as (
            total, advance
        ):
            total(ledger.read_models.db.max_position())
            result = build_statistics(ledger, first, last, unit, progress=advance)
        # The CSV is written as its rows are made: a national ledger's has millions.
        if output is None:
            if fmt == "html":
                typer.echo(render_stats_html(result), nl=False)
            else:
                write_csv(result, sys.stdout)
            return
        with output.open("w", encoding="utf-8", newline="") as out:
            if fmt == "html":
                out.write(render_stats_html(result))
            else:
                write_csv(result, out)
        typer.echo(t("audit.report_written", path=output), err=True)

    app.add_typer(report, name="report")
