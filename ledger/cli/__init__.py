"""The `bti` command: parses what a person types, calls the CaseLedger, prints the answer.

No rule lives here. Every refusal comes from the ledger as a LedgerError and is printed as
one sentence (`message [code]`, or its JSON with `--json`), exit code 1. Every word comes
from the catalogue (`ledger/messages.toml`), so the command is built after the language is
chosen: `build_app()` reads the catalogue in the current language.

Each module adds one group of commands with its `register(app)`; `COMMAND_GROUPS` lists
them in the order `bti --help` shows them. A new group is a module with a `register`
function and one more entry there.

The modules do not use `from __future__ import annotations`: typer reads the option
declarations from the annotations of functions built inside `register()`.
"""

import os
import sys
import traceback
from collections.abc import Callable
from typing import Annotated, Any, Literal

import typer
from typer.core import TyperGroup

from ledger import messages
from ledger.cli import (
    audit,
    cases,
    create,
    daemon,
    demo,
    erasure,
    privacy,
    projections,
    queries,
    record,
    rulebooks,
    transfer,
)
from ledger.cli.output import CommandRefused, as_ledger_error, label, report_error, t
from ledger.cli.record import option_name
from ledger.cli.session import Session

COMMAND_GROUPS: tuple[Callable[[typer.Typer], None], ...] = (
    create.register,  # init
    record.register,  # record ACTION
    cases.register,  # case list|show|history
    queries.register,  # deadlines, stafett
    transfer.register,  # import, export, schema
    rulebooks.register,  # rulebook list|show|validate|adopt
    projections.register,  # project, rebuild
    daemon.register,  # daemon, reminders
    audit.register,  # timeline, verify, keys, checkpoint, report
    privacy.register,  # access log
    demo.register,  # demo
    erasure.register,  # case erase, keys master-generate (joins `case` and `keys`)
)
"""Every group of commands, each adding itself to the root command."""


class LedgerGroup(TyperGroup):
    """The root group: turns the ledger's refusals into one sentence and exit code 1."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as error:
            refusal = as_ledger_error(error)
            if refusal is None:
                raise
            session = ctx.obj if isinstance(ctx.obj, Session) else Session()
            report_error(refusal, session.json_output)
            raise typer.Exit(1) from None


def build_app() -> typer.Typer:
    """The whole `bti` command, its help in the current language."""
    app = typer.Typer(
        cls=LedgerGroup, help=t("help.root"), no_args_is_help=True,
        pretty_exceptions_enable=False, add_completion=False,
    )

    @app.callback()
    def root(
        ctx: typer.Context,
        db: Annotated[str | None, typer.Option("--db", help=t("help.db"))] = None,
        lang: Annotated[
            Literal["nb", "en"], typer.Option("--lang", envvar="BTI_LANGUAGE", help=t("help.lang"))
        ] = "nb",
        inline_projections: Annotated[
            bool,
            typer.Option(
                "--inline-projections/--no-inline-projections",
                envvar="BTI_INLINE_PROJECTIONS", help=t("help.inline_projections"),
            ),
        ] = True,
    ) -> None:
        messages.set_language(lang)
        ctx.obj = Session(db=db, inline_projections=inline_projections)

    for register in COMMAND_GROUPS:
        register(app)
    return app


def language_from(args: list[str]) -> str | None:
    """The language asked for before the command is built (so its help is in that language)."""
    chosen = os.environ.get("BTI_LANGUAGE")
    tokens = iter(args)
    for token in tokens:
        if token == "--lang":
            chosen = next(tokens, chosen)
        elif token.startswith("--lang="):
            chosen = token.split("=", 1)[1]
        elif token == "--db":
            next(tokens, None)
        elif not token.startswith("-"):
            break
    return chosen if chosen in messages.LANGUAGES else None


def main(argv: list[str] | None = None) -> None:
    """The `bti` console script."""
    args = sys.argv[1:] if argv is None else argv
    language = language_from(args)
    if language is not None:
        messages.set_language(language)
    app = build_app()
    try:
        app(args=args, prog_name="bti")
    except Exception as error:  # the last guard: a person never sees a traceback by default
        refusal = as_ledger_error(error) or CommandRefused(
            "unexpected", problem=f"{type(error).__name__}: {error}"
        )
        typer.echo(str(refusal), err=True)
        if os.environ.get("BTI_DEBUG"):
            traceback.print_exc()
        sys.exit(1)


__all__ = ["COMMAND_GROUPS", "build_app", "label", "main", "option_name"]
