"""`bti demo`: build a ledger of example cases and show what to look at next."""

import shlex
from datetime import datetime
from typing import Annotated

import typer

from ledger import messages
from ledger.application import CaseLedger, system_clock
from ledger.cli.cases import cases_table
from ledger.cli.output import CommandRefused, stdout_console, t
from ledger.cli.session import session_of
from ledger.demo import DEMO_URL, TILSYN, DemoReport, build_demo, sqlite_file
from ledger.keys import ensure_demo_master_key
from ledger.policies.calendar import OSLO
from ledger.store import redact


def print_demo(report: DemoReport) -> None:
    """What the demo built, the refusal it shows, and what to look at next."""
    url = report.url
    console = stdout_console()
    console.print(t("demo.created", url=redact(url), events=report.events,
                    count=len(report.cases)), style="bold")
    for case in report.cases:
        console.print(f"  • {case.title}\n    {case.case_id}")
    console.print()
    with CaseLedger.open(url, reader=TILSYN, purpose="demo") as ledger:
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
    # Every read of a case has a reader; the demo's is tilsyn, who may read every case.
    reader = (
        f"export BTI_PERSON={shlex.quote(TILSYN.person)} BTI_ROLE={TILSYN.role} "
        f"BTI_SERVICE={TILSYN.service} BTI_UNIT={shlex.quote(TILSYN.unit)}"
    )
    console.print(f"  {reader}", soft_wrap=True)
    console.print(f"      {t('demo.next_reader')}", style="dim")
    for command, what in (
        (f"{base} case show {by_key['s12']}", "demo.next_show"),
        (f"{base} case history {by_key['level3']}", "demo.next_history"),
        (f"{base} case history {by_key['violence']}", "demo.next_violence"),
        (f"{base} export", "demo.next_export"),
        (f"{base} --lang {other} case list", "demo.next_english"),
    ):
        console.print(f"  {command}", soft_wrap=True)
        console.print(f"      {t(what)}", style="dim")


def register(app: typer.Typer) -> None:
    """Add `bti demo [--db URL] [--fresh]` to the root command."""

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
        key_file = ensure_demo_master_key(path)
        if key_file is not None:
            stdout_console().print(t("demo.master_key", path=key_file), soft_wrap=True)
        print_demo(build_demo(url, system_clock))
