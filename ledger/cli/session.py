"""What one invocation chose (database, JSON, inline projections), who acts, and the ledger."""

import inspect
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from pydantic import TypeAdapter, ValidationError

from ledger.application import CaseLedger, actor_from, invalid_input
from ledger.cli.output import CommandRefused, t
from ledger.errors import InvalidInput
from ledger.events import Actor

_DATETIME = TypeAdapter(datetime)


@dataclass
class Session:
    """What the root options chose, shared by every command of one invocation."""

    db: str | None = None
    json_output: bool = False
    inline_projections: bool = True
    """False for writers in a server set-up, where `bti project --follow` keeps the projections."""
    reader: dict[str, Any] | None = None
    """Who reads; None: from BTI_PERSON, BTI_ROLE, BTI_SERVICE and BTI_UNIT."""
    purpose: str | None = None
    """Why they read (the read audit keeps it); None: from BTI_PURPOSE."""


def session_of(ctx: typer.Context) -> Session:
    """The invocation's session (a fresh one if the root callback did not run)."""
    return ctx.ensure_object(Session)


@contextmanager
def opened(session: Session) -> Iterator[CaseLedger]:
    """The ledger at the session's URL, read by the session's reader, closed afterwards."""
    with CaseLedger.open(
        session.db, inline_projections=session.inline_projections,
        reader=session_reader(session),
        purpose=session.purpose or os.environ.get("BTI_PURPOSE") or None,
    ) as ledger:
        yield ledger


def session_reader(session: Session) -> Actor | None:
    """The reader: the session's, or the one BTI_PERSON/ROLE/SERVICE/UNIT name (the role
    defaults to staff, as for `--as-role`). None if one is missing or not valid: reads of a
    case are then refused with `reader_required`, and listings too."""
    given = session.reader or {
        "person": os.environ.get("BTI_PERSON"), "role": os.environ.get("BTI_ROLE") or "staff",
        "service": os.environ.get("BTI_SERVICE"), "unit": os.environ.get("BTI_UNIT"),
    }
    if not all(given.get(name) for name in ("person", "role", "service", "unit")):
        return None
    try:
        return actor_from(given)
    except InvalidInput:
        return None


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


def actor_parameters() -> dict[str, tuple[Any, Any]]:
    """The `--as-*` options as `with_signature` parameters (the role defaults to staff)."""
    actor = actor_options()
    return {
        **{name: (annotation, None) for name, annotation in actor.items()},
        "as_role": (actor["as_role"], "staff"),
    }


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
