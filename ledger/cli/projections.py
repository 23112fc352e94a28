"""`bti project` and `bti rebuild`: keep the read models following the log, or build them anew."""

import time
from contextlib import suppress
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from ledger.cli.output import CommandRefused, print_json, stderr_console, stdout_console, t
from ledger.cli.session import opened, session_of
from ledger.projections.runner import REBUILD_SUFFIX, ProjectionRunner
from ledger.signals import stop_on_signals


class EventRate(ProgressColumn):
    """Events applied per second since the start, in the catalogue's words."""

    def render(self, task: Task) -> Text:
        elapsed = task.elapsed or 0.0
        rate = round(task.completed / elapsed) if elapsed > 0 else 0
        return Text(t("progress.rate", rate=rate), no_wrap=True)


class _Stopped(Exception):
    """A signal asked the follower to stop; raised after a batch was committed."""


def follow(runner: ProjectionRunner, interval: float) -> int:
    """Catch up and keep following until SIGTERM or SIGINT; returns the events applied.

    A signal lets the batch under way commit, then stops: nothing is half applied, and
    what is left is caught up by the next run.
    """
    applied = 0
    with stop_on_signals() as stop:

        def batch_done(count: int) -> None:
            nonlocal applied
            applied += count
            if stop.is_set():
                raise _Stopped

        with suppress(_Stopped):
            runner.follow(stop, interval=interval, progress=batch_done)
    return applied


def print_status(runner: ProjectionRunner, json_output: bool) -> None:
    """Each projection's position and the head of the log."""
    positions = runner.positions()
    head = runner.db.max_position()
    if json_output:
        print_json({"head": head, "positions": positions})
        return
    table = Table()
    for key in ("projection", "position", "behind"):
        table.add_column(t(f"column.{key}"))
    for name, position in sorted(positions.items()):
        shown = name
        if name.endswith(REBUILD_SUFFIX):
            shown = t("project.rebuilding", name=name.removesuffix(REBUILD_SUFFIX))
        table.add_row(shown, str(position), str(head - position))
    console = stdout_console()
    console.print(table)
    console.print(t("project.head", head=head))


def rebuild_with_progress(runner: ProjectionRunner, names: list[str]) -> int:
    """Rebuild `names` with a progress bar on stderr (events per second); returns events read."""
    console = stderr_console()
    columns = (
        TextColumn("{task.description}", markup=False), BarColumn(bar_width=24), MofNCompleteColumn(),
        EventRate(), TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(
            t("rebuild.progress", names=", ".join(names)), total=runner.db.max_position()
        )
        done = runner.rebuild(names, progress=lambda count: progress.advance(task, count))
        head = runner.db.max_position()  # the last batches are applied in the swap's transaction
        progress.update(task, total=head, completed=head)
    return done


def register(app: typer.Typer) -> None:
    """Add `bti project` and `bti rebuild` to the root command."""

    @app.command("project", help=t("help.project"))
    def project(
        ctx: typer.Context,
        *,
        follow_log: Annotated[bool, typer.Option("--follow", help=t("help.follow"))] = False,
        interval: Annotated[
            float, typer.Option("--interval", min=0.0, help=t("help.interval"))
        ] = 1.0,
        batch_size: Annotated[
            int | None, typer.Option("--batch-size", min=1, help=t("help.batch_size"))
        ] = None,
        status: Annotated[bool, typer.Option("--status", help=t("help.project_status"))] = False,
        json_output: Annotated[bool, typer.Option("--json", help=t("help.json"))] = False,
    ) -> None:
        session = session_of(ctx)
        session.json_output = json_output
        with opened(session) as ledger:
            runner = ledger.read_models.runner
            if batch_size is not None:
                runner.batch_size = batch_size
            if status:
                print_status(runner, json_output)
                return
            if follow_log:
                stderr_console().print(t("project.following", interval=interval), soft_wrap=True)
                applied = follow(runner, interval)
            else:
                applied = runner.catch_up()
            head = runner.db.max_position()
        if json_output:
            print_json({"applied": applied, "head": head})
            return
        key = "project.stopped" if follow_log else "project.done"
        (stderr_console() if follow_log else stdout_console()).print(
            t(key, count=applied, head=head), soft_wrap=True
        )

    @app.command("rebuild", help=t("help.rebuild"))
    def rebuild(
        ctx: typer.Context,
        names: Annotated[
            list[str] | None,
            typer.Argument(help=t("help.rebuild_names"), show_default=False),
        ] = None,
        workers: Annotated[
            int | None, typer.Option("--workers", min=0, help=t("help.rebuild_workers"))
        ] = None,
    ) -> None:
        session = session_of(ctx)
        with opened(session) as ledger:
            runner = ledger.read_models.runner
            if workers is not None:
                runner.rebuild_workers = workers
            known = list(runner.projections)
            chosen = list(dict.fromkeys(names)) if names else known
            for name in chosen:
                if name not in known:
                    raise CommandRefused("projection_unknown", name=name, known=", ".join(known))
            started = time.monotonic()
            try:
                events = rebuild_with_progress(runner, chosen)
            except KeyboardInterrupt:
                stderr_console().print(t("rebuild.interrupted"))
                raise typer.Exit(130) from None
        seconds = time.monotonic() - started
        stdout_console().print(t(
            "rebuild.done", names=", ".join(chosen), count=events,
            seconds=f"{seconds:.1f}", rate=round(events / seconds) if seconds > 0 else events,
        ), soft_wrap=True)
