"""The `bti` command: parses what a person types, calls the CaseLedger, prints the answer.

No rule lives here. Every refusal comes from the ledger as a LedgerError and is printed as
one sentence (`message [code]`, or its JSON with `--json`), exit code 1. Every word comes
from the catalogue (`ledger/messages.toml`), so the command is built after the language is
chosen: `build_app()` reads the catalogue in the current language.

This module does not use `from __future__ import annotations`: typer reads the option
declarations from the annotations of functions built inside `build_app()`.
"""

import inspect
import os
import shlex
import sys
import traceback
import types
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from uuid import UUID

import orjson
import typer
from pydantic import TypeAdapter, ValidationError
from pydantic.fields import FieldInfo
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from typer.core import TyperGroup

from ledger import messages
from ledger.application import CaseLedger, invalid_input, parse_uuid, system_clock
from ledger.demo import DEMO_URL, DemoReport, build_demo, sqlite_file
from ledger.errors import ImportRejected, InvalidInput, LedgerError, LedgerNotFound
from ledger.events import ACTIONS, EVENT_TYPES, LEDGER_SET_FIELDS, CaseEvent, Event, event_to_json
from ledger.policies.calendar import OSLO
from ledger.policies.rulebook import (
    Rulebook,
    RulebookInvalid,
    RulebookNotFound,
    load_rulebook,
    shipped_rulebook_names,
)
from ledger.projections.case_summary import CaseSummary
from ledger.store import open_store, redact, resolve_url
from ledger.transfer import ImportReport, export_events, import_events, import_into, read_lines

FieldKind = Literal["one", "many", "flag", "json"]

_OWN_OPTIONS = frozenset({"actor", "occurred_at"})
"""Event fields with options of their own (`--as-*`, `--occurred-at`)."""

_EVENT_BASE_FIELDS = LEDGER_SET_FIELDS | _OWN_OPTIONS
_DATETIME = TypeAdapter(datetime)


class CommandRefused(LedgerError):
    """The command line itself is not usable (no actor, bad JSON, a file that cannot be read)."""

    kind = "cli.error"


@dataclass
class Session:
    """What the root options chose, shared by every command of one invocation."""

    db: str | None = None
    json_output: bool = False


def t(key: str, **params: object) -> str:
    """A text from the catalogue's `cli.` section."""
    return messages.text(f"cli.{key}", **params)


def label(event_type: str) -> str:
    """The plain-words label of an event type."""
    return messages.text(f"label.{event_type}")


# ---- printing ------------------------------------------------------------------------


def stdout_console() -> Console:
    """A console on the current standard output (tests swap it), wide when piped."""
    # markup off: what people wrote ("[sic]") and error codes ("[code]") print as written.
    return Console(
        highlight=False, markup=False, width=None if sys.stdout.isatty() else 160
    )


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False, markup=False)


def print_json(value: Any) -> None:
    """Print `value` as indented JSON (UUIDs, dates and models included)."""
    typer.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2, default=_jsonable).decode())


def _jsonable(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    raise TypeError


def local_time(moment: datetime | None) -> str:
    """A moment as people in the municipality read it: Europe/Oslo local time."""
    if moment is None:
        return t("word.none")
    return moment.astimezone(OSLO).strftime("%Y-%m-%d %H:%M")


def word(value: object) -> str:
    """A value as a short text for a table cell."""
    if value is None or value in ((), [], ""):
        return t("word.none")
    if isinstance(value, bool):
        return t("word.yes") if value else t("word.no")
    if isinstance(value, datetime):
        return local_time(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(word(v) for v in value)
    if isinstance(value, dict):
        return orjson.dumps(value, default=str).decode()
    return str(value)


def report_error(error: LedgerError, json_output: bool) -> None:
    """One clear sentence to stderr (or the error's JSON); an import lists every line."""
    if json_output:
        typer.echo(orjson.dumps(error.as_dict(), default=str).decode(), err=True)
        return
    typer.echo(str(error), err=True)
    if isinstance(error, ImportRejected):
        for problem in error.problems:
            typer.echo(t("import.problem", **problem.__dict__), err=True)


def as_ledger_error(error: Exception) -> LedgerError | None:
    """The ledger's own error for anything bad input can raise, else None."""
    if isinstance(error, LedgerError):
        return error
    if isinstance(error, RulebookNotFound):
        return LedgerError("rulebook_not_found", name=error.name, known=", ".join(error.shipped))
    if isinstance(error, RulebookInvalid):
        return LedgerError(
            "rulebook_invalid", origin=error.origin, problems="; ".join(error.problems)
        )
    if isinstance(error, ValidationError):
        return invalid_input(error)
    if isinstance(error, OSError) and not isinstance(error, BrokenPipeError):
        return CommandRefused(
            "file_problem", path=error.filename or "-", reason=error.strerror or str(error)
        )
    return None


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


class ActionGroup(TyperGroup):
    """`bti record`: an unknown action is the ledger's `unknown_action`, listing the known."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name = args[0] if args else "-"
        if not name.startswith("-") and not ctx.resilient_parsing and not self.get_command(
            ctx, name
        ):
            raise InvalidInput("unknown_action", action=args[0], known=", ".join(ACTIONS))
        return super().resolve_command(ctx, args)


# ---- reading what was typed ----------------------------------------------------------


def session_of(ctx: typer.Context) -> Session:
    return ctx.ensure_object(Session)


def actor_from_options(
    person: str | None, role: str | None, service: str | None, unit: str | None,
    base: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The actor from `--as-*` (or their environment variables); what is missing is named."""
    given = {"person": person, "role": role, "service": service, "unit": unit}
    actor = {**(base or {}), **{k: v for k, v in given.items() if v}}
    for name in ("person", "role", "service", "unit"):
        if not actor.get(name):
            raise CommandRefused(
                "actor_missing", option=f"--as-{name}", env=f"BTI_{name.upper()}"
            )
    return actor


def parse_time(value: str | None, field: str) -> datetime | None:
    """A time typed as ISO 8601; whether it may be naive or future is the ledger's call."""
    if value is None:
        return None
    try:
        return _DATETIME.validate_python(value)
    except ValidationError as error:
        raise invalid_input(error, prefix=field) from None


def read_json_object(value: str, option: str) -> dict[str, Any]:
    """A JSON object given inline or as `@file.json`."""
    if value.startswith("@"):
        path = Path(value[1:])
        try:
            value = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) else str(error)
            raise CommandRefused("file_problem", path=path, reason=reason) from None
    try:
        parsed = orjson.loads(value)
    except orjson.JSONDecodeError as error:
        raise CommandRefused("json_invalid", option=option, problem=str(error)) from None
    if not isinstance(parsed, dict):
        raise CommandRefused("json_not_object", option=option)
    return parsed


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
    return "--" + field.replace("_", "-")


# ---- the commands --------------------------------------------------------------------


@contextmanager
def opened(session: Session) -> Iterator[CaseLedger]:
    """The ledger at the session's URL, closed afterwards."""
    with CaseLedger.open(session.db) as ledger:
        yield ledger


def actor_options() -> dict[str, Any]:
    """The four `--as-*` options, with their environment variables, as annotations."""
    return {
        "as_person": Annotated[
            str | None, typer.Option("--as-person", envvar="BTI_PERSON", help=t("help.as_person"))
        ],
        "as_role": Annotated[
            str, typer.Option("--as-role", envvar="BTI_ROLE", help=t("help.as_role"))
        ],
        "as_service": Annotated[
            str | None,
            typer.Option("--as-service", envvar="BTI_SERVICE", help=t("help.as_service")),
        ],
        "as_unit": Annotated[
            str | None, typer.Option("--as-unit", envvar="BTI_UNIT", help=t("help.as_unit"))
        ],
    }


def _keyword(name: str, annotation: Any, default: Any = None) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                             annotation=annotation)


def with_signature(
    function: Callable[..., None], parameters: dict[str, tuple[Any, Any]]
) -> Callable[..., None]:
    """Give `function(ctx, **values)` the typer options in `parameters` (name → (type, default))."""
    ctx = inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                            annotation=typer.Context)
    signature = inspect.Signature(
        [ctx, *(_keyword(name, kind, default) for name, (kind, default) in parameters.items())]
    )
    function.__signature__ = signature  # type: ignore[attr-defined]
    function.__annotations__ = {
        "ctx": typer.Context, **{name: kind for name, (kind, _) in parameters.items()},
        "return": None,
    }
    return function


def action_command(action: str, cls: type[CaseEvent]) -> Callable[..., None]:
    """`bti record ACTION`: one option per field of the event the action records."""
    fields = {
        name: info for name, info in cls.model_fields.items() if name not in _EVENT_BASE_FIELDS
    }
    kinds = {name: field_kind(info.annotation) for name, info in fields.items()}
    actor = actor_options()
    parameters: dict[str, tuple[Any, Any]] = {
        "case": (Annotated[str | None, typer.Option("--case", help=t("help.case_option"))], None),
        "json_fields": (
            Annotated[str | None, typer.Option("--json", help=t("help.json_fields"))], None
        ),
        "occurred_at": (
            Annotated[str | None, typer.Option("--occurred-at", help=t("help.occurred_at"))],
            None,
        ),
        **{name: (annotation, None) for name, annotation in actor.items()},
    }
    parameters["as_role"] = (actor["as_role"], "staff")
    for name, info in fields.items():
        kind = kinds[name]
        help_text = field_help(info, kind)
        option: Any
        if kind == "many":
            option = Annotated[list[str] | None, typer.Option(option_name(name), help=help_text)]
        elif kind == "flag":
            flag = name.replace("_", "-")
            option = Annotated[
                bool | None, typer.Option(f"--{flag}/--no-{flag}", help=help_text)
            ]
        else:
            option = Annotated[str | None, typer.Option(option_name(name), help=help_text)]
        parameters[f"field__{name}"] = (option, None)

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


def summary_rows(summary: CaseSummary) -> list[tuple[str, str]]:
    """The case summary as (label, value) rows for people."""
    none = t("word.none")
    consents = [
        t("summary.consent_line", services=", ".join(c.services), given_by=c.given_by,
          valid_until=word(c.valid_until))
        for c in summary.consents_in_force
    ]
    tiltak = [
        t("summary.tiltak_line", description=o.description, status=t(f"tiltak_status.{o.status}"),
          responsible=o.responsible or none, evaluate_by=word(o.evaluate_by))
        for o in summary.open_tiltak
    ]
    holder = f"{summary.holder} ({summary.holder_service})" if summary.holder else none
    return [
        (t("summary.case"), str(summary.case_id)),
        (t("summary.child"), summary.child_ref),
        (t("summary.unit"), f"{summary.unit} ({summary.service})"),
        (t("summary.status"), t(f"status.{summary.status}")),
        (t("summary.level"), str(summary.level)),
        (t("summary.tracks"), word(summary.tracks)),
        (t("summary.violence"), word(summary.violence_suspected)),
        (t("summary.holder"), holder),
        (t("summary.pending_handover"), word(summary.pending_handover_to)),
        (t("summary.services"), word(summary.services_involved)),
        (t("summary.consents"), "\n".join(consents) or none),
        (t("summary.lost_consent"), word(summary.services_relying_on_lost_consent)),
        (t("summary.open_tiltak"), "\n".join(tiltak) or none),
        (t("summary.noticed_at"), local_time(summary.noticed_at)),
        (t("summary.last_activity"), local_time(summary.last_activity)),
        (t("summary.events"), str(summary.events)),
    ]


def event_details(event: Event) -> str:
    """The fields an event carries beyond who and when, in one line."""
    parts = []
    for name in type(event).model_fields:
        if name in _EVENT_BASE_FIELDS or name in ("recorded_at", "case_id"):
            continue
        value = getattr(event, name)
        if value is None or value == () or value is False:
            continue
        text = word(value)
        parts.append(f"{name}: {text if len(text) <= 160 else text[:159] + '…'}")
    return "; ".join(parts)


def cases_table(summaries: list[CaseSummary]) -> Table:
    table = Table(show_lines=False)
    table.add_column(t("column.case_id"), no_wrap=True)
    for key in ("child_ref", "unit", "level", "status", "holder", "last_activity"):
        table.add_column(t(f"column.{key}"))
    for s in summaries:
        table.add_row(
            str(s.case_id), s.child_ref, s.unit, str(s.level), t(f"status.{s.status}"),
            s.holder or t("word.none"), local_time(s.last_activity),
        )
    return table


def print_cases(summaries: list[CaseSummary]) -> None:
    console = stdout_console()
    if not summaries:
        console.print(t("case_list.empty"))
        return
    console.print(cases_table(summaries))
    console.print(t("case_list.count", count=len(summaries)))


def case_app() -> typer.Typer:
    """`bti case list|show|history`."""
    app = typer.Typer(help=t("help.case"), no_args_is_help=True)
    json_option = Annotated[bool, typer.Option("--json", help=t("help.json"))]
    case_argument = Annotated[str, typer.Argument(help=t("help.case_id"), show_default=False)]

    @app.command("list", help=t("help.case_list"))
    def list_cases(
        ctx: typer.Context,
        unit: Annotated[str | None, typer.Option("--unit", help=t("help.unit"))] = None,
        status: Annotated[
            Literal["open", "closed"] | None, typer.Option("--status", help=t("help.status"))
        ] = None,
        json_output: json_option = False,
    ) -> None:
        session = session_of(ctx)
        session.json_output = json_output
        with opened(session) as ledger:
            summaries = ledger.list_cases(unit=unit, status=status)
        summaries.sort(key=lambda s: (s.noticed_at or datetime.min.replace(tzinfo=OSLO)))
        if json_output:
            print_json([s.model_dump(mode="json") for s in summaries])
            return
        print_cases(summaries)

    @app.command("show", help=t("help.case_show"))
    def show(ctx: typer.Context, case_id: case_argument, json_output: json_option = False) -> None:
        session = session_of(ctx)
        session.json_output = json_output
        with opened(session) as ledger:
            summary = ledger.summary(case_id)
        if json_output:
            print_json(summary.model_dump(mode="json"))
            return
        table = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
        table.add_column(style="bold")
        table.add_column()
        for name, value in summary_rows(summary):
            table.add_row(name, value)
        stdout_console().print(table)

    @app.command("history", help=t("help.case_history"))
    def history(
        ctx: typer.Context, case_id: case_argument, json_output: json_option = False
    ) -> None:
        session = session_of(ctx)
        session.json_output = json_output
        with opened(session) as ledger:
            events = ledger.history(case_id)
        if json_output:
            print_json([orjson.loads(event_to_json(e)) for e in events])
            return
        table = Table(show_lines=True)
        for key in ("sequence", "occurred_at", "recorded_at", "who", "what", "details"):
            table.add_column(t(f"column.{key}"), no_wrap=key in ("occurred_at", "recorded_at"))
        for e in events:
            who = f"{e.actor.person}\n({e.actor.role}, {e.actor.service})"
            table.add_row(
                str(e.sequence), local_time(e.occurred_at), local_time(e.recorded_at), who,
                label(e.type), event_details(e),
            )
        stdout_console().print(table)

    return app


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


def rulebook_app() -> typer.Typer:
    """`bti rulebook list|show`."""
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

    return app


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


def init_command(
    ctx: typer.Context, *, rulebook: str, as_person: str | None, as_role: str,
    as_service: str | None, as_unit: str | None,
) -> None:
    """`bti init`: create a ledger that follows a rulebook."""
    session = session_of(ctx)
    who = actor_from_options(as_person, as_role, as_service, as_unit)
    with CaseLedger.create(session.db, rulebook=rulebook, actor=who) as ledger:
        chosen = ledger.rulebook
    stdout_console().print(t(
        "init.created", url=redact(resolve_url(session.db)), name=chosen.name,
        version=chosen.version,
    ))


def add_init(app: typer.Typer) -> None:
    actor = actor_options()

    def run(ctx: typer.Context, **values: Any) -> None:
        init_command(ctx, **values)

    app.command("init", help=t("help.init"))(with_signature(run, {
        "rulebook": (
            Annotated[str, typer.Option("--rulebook", help=t("help.rulebook_option"))],
            "default",
        ),
        **{name: (annotation, None) for name, annotation in actor.items()},
        "as_role": (actor["as_role"], "staff"),
    }))


def export_to(ledger: CaseLedger, case_id: UUID | None, output: Path | None) -> int:
    """Write the events as JSONL to stdout or to `output` (whole, or not at all)."""
    count = 0
    if output is None:
        stream = typer.get_binary_stream("stdout")
        for line in export_events(ledger, case_id=case_id):
            stream.write(line + b"\n")
            count += 1
        stream.flush()
        return count
    partial = output.with_name(output.name + ".partial")
    with partial.open("wb") as target:
        for line in export_events(ledger, case_id=case_id):
            target.write(line + b"\n")
            count += 1
    partial.replace(output)
    return count


def add_transfer(app: typer.Typer) -> None:
    """`bti import` and `bti export`."""

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
            if case_id is not None:
                ledger.case(case_id)  # an unknown case is refused, not exported as nothing
            count = export_to(ledger, case_id, output)
        if output is not None:
            typer.echo(t("export.done", count=count, path=output), err=True)


def add_schema(app: typer.Typer) -> None:
    """`bti schema [EVENT_TYPE]`."""

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


def add_demo(app: typer.Typer) -> None:
    """`bti demo [--db URL] [--fresh]`."""

    @app.command("demo", help=t("help.demo"))
    def demo(
        ctx: typer.Context,
        db: Annotated[str | None, typer.Option("--db", help=t("help.demo_db"))] = None,
        fresh: Annotated[bool, typer.Option("--fresh", help=t("help.demo_fresh"))] = False,
    ) -> None:
        session = session_of(ctx)
        # Never the $BTI_DATABASE_URL ledger: only a URL given here or to `bti --db`.
        url = db or session.db or DEMO_URL
        path = sqlite_file(url)
        if fresh and path is None:
            raise CommandRefused("demo_fresh_needs_file", url=redact(url))
        if path is not None and path.exists():
            if not fresh:
                raise CommandRefused("demo_exists", url=redact(url))
            for leftover in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm"))):
                leftover.unlink(missing_ok=True)
        print_demo(build_demo(url, system_clock))


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
    ) -> None:
        messages.set_language(lang)
        ctx.obj = Session(db=db)

    add_init(app)
    app.add_typer(record_app(), name="record")
    app.add_typer(case_app(), name="case")
    add_transfer(app)
    add_schema(app)
    app.add_typer(rulebook_app(), name="rulebook")
    add_demo(app)
    return app


def print_demo(report: DemoReport) -> None:
    """What the demo built, the refusal it shows, and what to look at next."""
    url = report.url
    console = stdout_console()
    console.print(t("demo.created", url=redact(url), events=report.events,
                    count=len(report.cases)), style="bold")
    for case in report.cases:
        console.print(f"  • {case.title}\n    {case.case_id}")
    console.print()
    with CaseLedger.open(url) as ledger:
        summaries = ledger.list_cases()
    summaries.sort(key=lambda s: s.noticed_at or datetime.min.replace(tzinfo=OSLO))
    console.print(cases_table(summaries))
    console.print()
    console.print(t("demo.refused", case_id=report.refused_case))
    console.print(f"  {report.refusal}", style="yellow", soft_wrap=True)
    console.print()
    by_key = {case.key: case.case_id for case in report.cases}
    base = f"bti --db {shlex.quote(url)}"
    other = "en" if messages.current_language() == "nb" else "nb"
    console.print(t("demo.next"), style="bold")
    for command, what in (
        (f"{base} case show {by_key['s12']}", "demo.next_show"),
        (f"{base} case history {by_key['level3']}", "demo.next_history"),
        (f"{base} case history {by_key['violence']}", "demo.next_violence"),
        (f"{base} export", "demo.next_export"),
        (f"{base} --lang {other} case list", "demo.next_english"),
    ):
        console.print(f"  {command}", soft_wrap=True)
        console.print(f"      {t(what)}", style="dim")


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


if __name__ == "__main__":
    main()
