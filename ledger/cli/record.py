"""`bti record ACTION`: one subcommand per action, one option per field of its event."""

import inspect
import types
import typing
from collections.abc import Callable
from typing import Annotated, Any, Literal

import typer
from pydantic.fields import FieldInfo
from typer.core import TyperGroup

from ledger.application import parse_uuid
from ledger.cli.output import CommandRefused, label, stdout_console, t
from ledger.cli.session import (
    actor_from_options,
    actor_parameters,
    opened,
    parse_time,
    read_json_object,
    session_of,
    with_signature,
)
from ledger.errors import InvalidInput
from ledger.events import ACTIONS, LEDGER_SET_FIELDS, CaseEvent, event_to_json

FieldKind = Literal["one", "many", "flag", "json"]

_OWN_OPTIONS = frozenset({"actor", "occurred_at"})
"""Event fields with options of their own (`--as-*`, `--occurred-at`)."""

EVENT_BASE_FIELDS = LEDGER_SET_FIELDS | _OWN_OPTIONS
"""Fields every event has that are not the action's own (no option, no detail column)."""


class ActionGroup(TyperGroup):
    """`bti record`: an unknown action is the ledger's `unknown_action`, listing the known."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name = args[0] if args else "-"
        if not name.startswith("-") and not ctx.resilient_parsing and not self.get_command(
            ctx, name
        ):
            raise InvalidInput("unknown_action", action=args[0], known=", ".join(ACTIONS))
        return super().resolve_command(ctx, args)


def field_kind(annotation: Any) -> FieldKind:
    """How a model field is typed on the command line."""
    kinds = {_single_kind(arg) for arg in _alternatives(annotation)}
    for kind in ("many", "json", "flag"):
        if kind in kinds:
            return typing.cast(FieldKind, kind)
    return "one"


def _alternatives(annotation: Any) -> list[Any]:
    """The non-None types of a (possibly optional, possibly Annotated) annotation."""
    if typing.get_origin(annotation) is Annotated:
        return _alternatives(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [a for arg in typing.get_args(annotation) for a in _alternatives(arg)]
    return [] if annotation is type(None) else [annotation]


def _single_kind(annotation: Any) -> FieldKind:
    origin = typing.get_origin(annotation) or annotation
    if origin in (list, tuple, set, frozenset):
        return "many"
    if origin is dict:
        return "json"
    if annotation is bool:
        return "flag"
    return "one"


def _choices(annotation: Any) -> list[str]:
    """The allowed values of a Literal field (inside tuples and optionals too)."""
    found: list[str] = []
    for alternative in _alternatives(annotation):
        if typing.get_origin(alternative) is Literal:
            found += [str(a) for a in typing.get_args(alternative)]
        elif typing.get_origin(alternative) in (list, tuple):
            found += [c for arg in typing.get_args(alternative) for c in _choices(arg)]
    return found


def field_help(info: FieldInfo, kind: FieldKind) -> str:
    """An option's help: the field's description, its choices, whether it is required."""
    parts = [info.description or ""]
    choices = _choices(info.annotation)
    if choices:
        parts.append(t("help.choices", choices=", ".join(dict.fromkeys(choices))))
    if kind == "many":
        parts.append(t("help.repeat"))
    if kind == "json":
        parts.append(t("help.json_value"))
    if info.is_required():
        parts.append(t("help.required"))
    return " ".join(p for p in parts if p)


def option_name(field: str) -> str:
    """The command-line option of an event field (`child_ref` → `--child-ref`)."""
    return "--" + field.replace("_", "-")


def _field_option(name: str, info: FieldInfo, kind: FieldKind) -> Any:
    help_text = field_help(info, kind)
    if kind == "many":
        return Annotated[list[str] | None, typer.Option(option_name(name), help=help_text)]
    if kind == "flag":
        flag = name.replace("_", "-")
        return Annotated[bool | None, typer.Option(f"--{flag}/--no-{flag}", help=help_text)]
    return Annotated[str | None, typer.Option(option_name(name), help=help_text)]


def action_command(action: str, cls: type[CaseEvent]) -> Callable[..., None]:
    """`bti record ACTION`: one option per field of the event the action records."""
    fields = {
        name: info for name, info in cls.model_fields.items() if name not in EVENT_BASE_FIELDS
    }
    kinds = {name: field_kind(info.annotation) for name, info in fields.items()}
    parameters: dict[str, tuple[Any, Any]] = {
        "case": (Annotated[str | None, typer.Option("--case", help=t("help.case_option"))], None),
        "json_fields": (
            Annotated[str | None, typer.Option("--json", help=t("help.json_fields"))], None
        ),
        "occurred_at": (
            Annotated[str | None, typer.Option("--occurred-at", help=t("help.occurred_at"))],
            None,
        ),
        **actor_parameters(),
        **{
            f"field__{name}": (_field_option(name, info, kinds[name]), None)
            for name, info in fields.items()
        },
    }

    def run(ctx: typer.Context, **values: Any) -> None:
        session = session_of(ctx)
        session.json_output = values["json_fields"] is not None
        given: dict[str, Any] = {}
        if values["json_fields"] is not None:
            given = read_json_object(values["json_fields"], "--json")
        for reserved in ("action", "self"):
            if reserved in given:
                raise CommandRefused("json_reserved_key", key=reserved, option="--json")
        json_case, json_time = given.pop("case_id", None), given.pop("occurred_at", None)
        case_id = values["case"] or json_case
        occurred_at = parse_time(values["occurred_at"] or json_time, "occurred_at")
        event_id = given.pop("event_id", None)
        json_actor = given.pop("actor", None)
        who = actor_from_options(
            values["as_person"], values["as_role"], values["as_service"], values["as_unit"],
            base=json_actor if isinstance(json_actor, dict) else None,
        )
        for name, kind in kinds.items():
            value = values[f"field__{name}"]
            if value is None or (kind == "many" and not value):
                continue
            given[name] = read_json_object(value, option_name(name)) if kind == "json" else value
        with opened(session) as ledger:
            event = ledger.record(
                action, case_id, actor=who, occurred_at=occurred_at,
                event_id=parse_uuid(event_id, "event_id") if event_id else None, **given,
            )
        if session.json_output:
            typer.echo(event_to_json(event).decode())
            return
        console = stdout_console()
        if action == "register-undring":
            console.print(t("record.new_case", case_id=event.case_id), style="bold green")
        console.print(t(
            "record.stored", label=label(event.type), event_id=event.event_id,
            sequence=event.sequence, case_id=event.case_id,
        ))

    run.__name__ = action.replace("-", "_")
    return with_signature(run, parameters)


def record_app() -> typer.Typer:
    """`bti record`: one subcommand per action in `ledger.events.ACTIONS`."""
    app = typer.Typer(cls=ActionGroup, help=t("help.record"), no_args_is_help=True)
    for action, cls in ACTIONS.items():
        if issubclass(cls, CaseEvent):
            doc = inspect.getdoc(cls) or ""
            app.command(name=action, help=f"{label(cls.model_fields['type'].default)}. {doc}")(
                action_command(action, cls)
            )
    return app


def register(app: typer.Typer) -> None:
    """Add `bti record` to the root command."""
    app.add_typer(record_app(), name="record")
