"""`bti rulebook list|show|validate|adopt`: the rulebooks, checking one, and following one."""

import inspect
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from ledger.cli.output import print_json, stdout_console, t
from ledger.cli.session import (
    actor_from_options,
    actor_parameters,
    opened,
    session_of,
    with_signature,
)
from ledger.policies.rulebook import (
    Durations,
    Rulebook,
    RulebookInvalid,
    load_rulebook,
    shipped_rulebook_names,
)


def rulebook_rows(rulebook: Rulebook) -> list[tuple[str, str, str]]:
    """(setting, value, source) for each value of a rulebook."""
    rows = [
        (t(f"rulebook.{name}"), str(cited.value), cited.source)
        for name, cited in (
            ("self_consent_age", rulebook.self_consent_age),
            ("level3_min_services", rulebook.level3_min_services),
            ("statistics_threshold", rulebook.statistics_threshold),
            ("retention_years", rulebook.retention_years),
        )
    ]
    for rule in type(rulebook.durations).model_fields:
        duration = getattr(rulebook.durations, rule)
        amount = t(f"duration_unit.{duration.unit}", amount=duration.amount)
        rows.append((t("rulebook.duration", rule=rule), amount, duration.source))
    for stage in rulebook.reminder_stages:
        rows.append((t("rulebook.reminder", stage=stage.name), f"{stage.offset_days:+d}",
                     stage.source))
    return rows


def identity(rulebook: Rulebook) -> dict[str, str]:
    """Name, version and digest: what says which rulebook a ledger follows."""
    return {"name": rulebook.name, "version": rulebook.version, "digest": rulebook.digest}


def report_invalid(file: Path, invalid: RulebookInvalid, json_output: bool) -> None:
    """Every problem of a rulebook file, one per line on stderr (or as JSON)."""
    header = t("rulebook.invalid", path=file, count=len(invalid.problems))
    if json_output:
        typer.echo(orjson.dumps({
            "code": "rulebook_invalid", "message": header, "origin": str(file),
            "problems": invalid.problems,
        }).decode(), err=True)
        return
    typer.echo(f"{header} [rulebook_invalid]", err=True)
    for problem in invalid.problems:
        typer.echo(f"  - {problem}", err=True)


def adopt_command(ctx: typer.Context, *, rulebook: str, json_output: bool, **actor: Any) -> None:
    """Record that the ledger follows `rulebook` from now on; print old → new."""
    session = session_of(ctx)
    session.json_output = json_output
    who = actor_from_options(
        actor["as_person"], actor["as_role"], actor["as_service"], actor["as_unit"]
    )
    chosen = load_rulebook(rulebook)
    with opened(session) as ledger:
        old = ledger.rulebook
        ledger.adopt_rulebook(chosen, actor=who)
    if json_output:
        print_json({"old": identity(old), "new": identity(chosen)})
        return
    stdout_console().print(t(
        "rulebook.adopted", old_name=old.name, old_version=old.version,
        new_name=chosen.name, new_version=chosen.version,
    ), soft_wrap=True)


def rulebook_app() -> typer.Typer:
    """`bti rulebook list|show|validate|adopt`."""
    app = typer.Typer(help=t("help.rulebook"), no_args_is_help=True)
    json_option = Annotated[bool, typer.Option("--json", help=t("help.json"))]

    @app.command("list", help=t("help.rulebook_list"))
    def list_rulebooks(ctx: typer.Context, json_output: json_option = False) -> None:
        session_of(ctx).json_output = json_output
        rulebooks = [load_rulebook(name) for name in shipped_rulebook_names()]
        if json_output:
            print_json([
                {"name": r.name, "version": r.version, "title": r.title, "seed": r.seed}
                for r in rulebooks
            ])
            return
        table = Table()
        for key in ("name", "version", "title"):
            table.add_column(t(f"column.{key}"))
        for r in rulebooks:
            table.add_row(r.name, r.version, r.title)
        stdout_console().print(table)

    @app.command("show", help=t("help.rulebook_show"))
    def show(
        ctx: typer.Context,
        name: Annotated[str, typer.Argument(help=t("help.rulebook_name"), show_default=False)],
        json_output: json_option = False,
    ) -> None:
        session_of(ctx).json_output = json_output
        rulebook = load_rulebook(name)
        if json_output:
            print_json({**rulebook.model_dump(mode="json"), "digest": rulebook.digest})
            return
        console = stdout_console()
        console.print(f"{rulebook.name} {rulebook.version}: {rulebook.title}", style="bold")
        table = Table(show_lines=True)
        for key in ("setting", "value", "source"):
            table.add_column(t(f"column.{key}"))
        for row in rulebook_rows(rulebook):
            table.add_row(*row)
        console.print(table)

    @app.command("validate", help=t("help.rulebook_validate"))
    def validate(
        ctx: typer.Context,
        file: Annotated[Path, typer.Argument(help=t("help.rulebook_file"), show_default=False)],
        json_output: json_option = False,
    ) -> None:
        session_of(ctx).json_output = json_output
        file.read_bytes()  # a file that cannot be read is refused as `file_problem`
        try:
            rulebook = load_rulebook(file)
        except RulebookInvalid as invalid:
            report_invalid(file, invalid, json_output)
            raise typer.Exit(1) from None
        if json_output:
            print_json({"valid": True, "path": str(file), **identity(rulebook)})
            return
        stdout_console().print(t(
            "rulebook.valid", path=file, name=rulebook.name, version=rulebook.version,
            title=rulebook.title, durations=len(Durations.model_fields),
            stages=len(rulebook.reminder_stages),
        ), soft_wrap=True)

    def adopt(ctx: typer.Context, **values: Any) -> None:
        adopt_command(ctx, **values)

    app.command("adopt", help=t("help.rulebook_adopt"))(with_signature(adopt, {
        "rulebook": (
            Annotated[str, typer.Argument(help=t("help.rulebook_adopt_name"), show_default=False)],
            inspect.Parameter.empty,
        ),
        "json_output": (json_option, False),
        **actor_parameters(),
    }))
    return app


def register(app: typer.Typer) -> None:
    """Add `bti rulebook` to the root command."""
    app.add_typer(rulebook_app(), name="rulebook")
