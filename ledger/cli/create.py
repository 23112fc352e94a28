"""`bti init`: create a ledger that follows a rulebook."""

from typing import Annotated, Any

import typer

from ledger.application import CaseLedger
from ledger.cli.output import stdout_console, t
from ledger.cli.session import actor_from_options, actor_parameters, session_of, with_signature
from ledger.store import redact, resolve_url


def init_command(
    ctx: typer.Context, *, rulebook: str, as_person: str | None, as_role: str,
    as_service: str | None, as_unit: str | None,
) -> None:
    """Create the ledger and say where, and which rulebook it follows."""
    session = session_of(ctx)
    who = actor_from_options(as_person, as_role, as_service, as_unit)
    with CaseLedger.create(session.db, rulebook=rulebook, actor=who) as ledger:
        chosen = ledger.rulebook
    stdout_console().print(t(
        "init.created", url=redact(resolve_url(session.db)), name=chosen.name,
        version=chosen.version,
    ))


def register(app: typer.Typer) -> None:
    """Add `bti init` to the root command."""

    def run(ctx: typer.Context, **values: Any) -> None:
        init_command(ctx, **values)

    app.command("init", help=t("help.init"))(with_signature(run, {
        "rulebook": (
            Annotated[str, typer.Option("--rulebook", help=t("help.rulebook_option"))],
            "default",
        ),
        **actor_parameters(),
    }))
