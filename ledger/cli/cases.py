"""`bti case list|show|history`: the cases, one case now, and one case's every event."""

from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
import typer
from rich.table import Table

from ledger import messages
from ledger.cli.output import label, local_time, print_json, stdout_console, t, word
from ledger.cli.queries import deadlines_table
from ledger.cli.record import EVENT_BASE_FIELDS
from ledger.cli.session import opened, parse_time, session_of
from ledger.events import Event, event_to_json
from ledger.keys import Erasure
from ledger.policies.calendar import OSLO
from ledger.policies.deadlines import Deadline
from ledger.policies.steps import Advice, Position, position, render, what_now
from ledger.projections.case_summary import CaseSummary
from replay import asof


def summary_rows(summary: CaseSummary, where: Position | None = None) -> list[tuple[str, str]]:
    """The case summary as (label, value) rows for people; with `where`, its level and step."""
    none = t("word.none")
    consents = [
        t("summary.consent_line", services=", ".join(c.services), given_by=t(f"party.{c.given_by}"),
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
        *([(t("summary.step"), position_text(where))] if where is not None else []),
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
        if name in EVENT_BASE_FIELDS or name in ("recorded_at", "case_id"):
            continue
        value = getattr(event, name)
        if value is None or value == () or value is False:
            continue
        text = word(value)
        parts.append(f"{name}: {text if len(text) <= 160 else text[:159] + '…'}")
    return "; ".join(parts)


def cases_table(summaries: list[CaseSummary]) -> Table:
    """Cases with child, unit, level, status, holder and last activity."""
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


def position_text(where: Position) -> str:
    """`Nivå 0: Undring · trinn 2 av 5: Konkretiser undringen`."""
    return t("summary.step_value", level=messages.text(where.level_key), step=where.step,
             name=messages.text(where.catalogue_key))


def position_json(where: Position) -> dict[str, Any]:
    """The level and step for `--json`: numbers, the step's key and both names."""
    return {
        "level": where.level, "step": where.step, "step_key": where.step_key,
        "level_name": messages.text(where.level_key), "step_name": messages.text(where.catalogue_key),
    }


def print_case(
    summary: CaseSummary,
    where: Position,
    deadlines: list[Deadline],
    advice: list[Advice],
    erased: Erasure | None = None,
) -> None:
    """The case now: its summary and step, its open deadlines, and what to do next."""
    console = stdout_console()
    table = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
    table.add_column(style="bold")
    table.add_column()
    for name, value in summary_rows(summary, where):
        table.add_row(name, value)
    if erased is not None:
        table.add_row(t("summary.erased"), t(
            "summary.erased_value", at=local_time(erased.erased_at), by=erased.erased_by,
            reason=erased.reason,
        ))
    console.print(table)
    console.print()
    console.print(t("case_show.deadlines", count=len(deadlines)), style="bold")
    if deadlines:
        console.print(deadlines_table(deadlines, with_case=False))
    console.print()
    console.print(t("case_show.what_now"), style="bold")
    for line in [render(item) for item in advice] or [t("case_show.nothing_now")]:
        console.print(f"  • {line}", soft_wrap=True)


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

    @app.command("show", help=t("help.case_show_full"))
    def show(
        ctx: typer.Context,
        case_id: case_argument,
        as_of: Annotated[str | None, typer.Option("--as-of", help=t("help.as_of"))] = None,
        json_output: json_option = False,
    ) -> None:
        session = session_of(ctx)
        session.json_output = json_output
        moment = parse_time(as_of, "as_of")
        with opened(session) as ledger:
            if moment is None:
                reading = ledger.admit(case_id, "show")  # one read, one entry in the access log
                summary = reading.summary(case_id)
                case = reading.case(case_id)
                deadlines = reading.deadlines(case_id=case_id)
                advice = what_now(case, deadlines, at=ledger.clock())
            else:
                # As the ledger knew it then: events recorded by that moment, one truth
                # (the aggregate and the pure deadline function) replayed by replay/.
                reading = ledger.admit(case_id, "as_of")
                summary = asof.case_summary_as_of(reading, case_id, moment)
                case = asof.case_as_of(reading, case_id, moment)
                deadlines = [
                    d for d in asof.deadlines_as_of(reading, case_id, moment)
                    if d.state in ("open", "missed") and d.met_by is None
                ]
                advice = what_now(case, deadlines, at=asof.aware(moment))
            erased = ledger.erasure(case_id)
        where = position(case)
        if json_output:
            print_json({
                **summary.model_dump(mode="json"),
                "erased": erased.__dict__ if erased is not None else None,
                "position": position_json(where),
                "deadlines": [d.model_dump(mode="json") for d in deadlines],
                "what_now": [{"key": a.key, "text": render(a)} for a in advice],
            })
            return
        print_case(summary, where, deadlines, advice, erased)

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


def register(app: typer.Typer) -> None:
    """Add `bti case` to the root command."""
    app.add_typer(case_app(), name="case")
