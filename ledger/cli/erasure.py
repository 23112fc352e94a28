"""`bti case erase ID --reason …` and `bti keys master-generate`: erasure and the master key.

Both join groups other modules make (`case`, `keys`), so this module is registered after them.
"""

from pathlib import Path
from typing import Annotated

import typer

from ledger.cli.output import print_json, stdout_console, t
from ledger.cli.session import actor_from_options, opened, session_of
from ledger.keys import master_key_path, write_master_key
from ledger.policies.calendar import OSLO


def group(app: typer.Typer, name: str) -> typer.Typer:
    """The sub-command group `name` another module added to the root command."""
    for info in app.registered_groups:
        if info.name == name and info.typer_instance is not None:
            return info.typer_instance
    raise RuntimeError(f"`bti {name}` must be registered before the erasure commands")


def register(app: typer.Typer) -> None:
    """Add `case erase` to `bti case` and `master-generate` to `bti keys`."""

    @group(app, "case").command("erase", help=t("help.erasure.erase"))
    def case_erase(  # noqa: PLR0917 - typer reads each option from a parameter
        ctx: typer.Context,
        case_id: Annotated[str, typer.Argument(help=t("help.erasure.case_id"))],
        reason: Annotated[str, typer.Option("--reason", help=t("help.erasure.reason"))],
        as_person: Annotated[str | None, typer.Option(
            "--as-person", envvar="BTI_PERSON", help=t("help.as_person"))] = None,
        as_role: Annotated[str, typer.Option(
            "--as-role", envvar="BTI_ROLE", help=t("help.as_role"))] = "leader",
        as_service: Annotated[str | None, typer.Option(
            "--as-service", envvar="BTI_SERVICE", help=t("help.as_service"))] = None,
        as_unit: Annotated[str | None, typer.Option(
            "--as-unit", envvar="BTI_UNIT", help=t("help.as_unit"))] = None,
    ) -> None:
        session = session_of(ctx)
        who = actor_from_options(as_person, as_role, as_service, as_unit)
        with opened(session) as ledger:
            event = ledger.erase_case(case_id, reason=reason, actor=who)
        if session.json_output:
            print_json({"case_id": str(event.case_id), "erased_at": event.recorded_at.isoformat(),
                        "erased_by": event.actor.person, "reason": event.reason})
            return
        stdout_console().print(t(
            "erasure.done", case_id=event.case_id, by=event.actor.person, reason=event.reason,
            at=event.recorded_at.astimezone(OSLO).strftime("%Y-%m-%d %H:%M"),
        ), soft_wrap=True)

    @group(app, "keys").command("master-generate", help=t("help.erasure.master_generate"))
    def master_generate(
        file: Annotated[
            Path | None, typer.Option("--file", help=t("help.erasure.master_file"))
        ] = None,
    ) -> None:
        path = file or master_key_path()
        write_master_key(path)
        stdout_console().print(t("erasure.master_created", path=path), soft_wrap=True)
