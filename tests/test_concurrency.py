"""Teachers' processes using one ledger at once: nothing is lost, doubled or let through.

Each story runs real processes (`tests/concurrent_writer.py`) against a real SQLite file and
a real PostgreSQL schema. They open the ledger, wait for a common starting shot, then act at
once; each reports what the ledger told it. Afterwards a fresh `CaseLedger.open` reads the
store back and checks it against the reports: every accepted event stored once, no refused
one, sequences without gaps, the notification log complete, the case summaries equal to a
fold of each history, and a rule that two writers race for kept all the same. Opening and
creating the ledger at the same moment are stories too: a user only ever hears a
LedgerError, and the one that says what happened.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from uuid import UUID, uuid4

import psycopg
import pytest

from ledger.application import CaseLedger, system_clock
from ledger.events import (
    CaseEvent,
    RulebookAdopted,
    ServiceInvolved,
    StafettHandoverAccepted,
    StafettHandoverDeclined,
)
from ledger.projections.case_summary import summarise
from tests.cast import HEALTH_NURSE, RECTOR, SPECIAL_TEACHER, TEACHER, TILSYN

pytestmark = pytest.mark.slow

REPOSITORY = Path(__file__).resolve().parent.parent
WRITER_TIMEOUT = 120
"""Seconds a writer may take before the story fails (they take a few seconds)."""
WRITERS = 4
"""Processes writing at once in each story."""

Command = dict[str, Any]
Result = dict[str, Any]

# What the writers of the first story record, cycling: actions whose only rules are the
# ones every event has, so each is accepted unless a concurrency bug refuses or loses it.
EVERYDAY_ACTIONS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("share_with_leader", {"leader": "Rita Rektor", "how": "samtale"}),
    ("log_bright_spot", {"observation": "Lo sammen med de andre i friminuttet."}),
    ("hold_meeting", {
        "kind": "ressursteam", "participants": ["Kari Lærer", "Rita Rektor"],
        "summary": "Gikk gjennom observasjonene.",
    }),
    ("hold_child_conversation", {"trusted_adult": "Kari Lærer", "summary": "Snakket om uka."}),
    ("record_investigation", {"looked_into": "Friminuttene", "findings": "Ingen funn ennå."}),
)


# ---- the writers ----------------------------------------------------------------------


def command(method: str, case_id: UUID, actor: Any, event_id: UUID | None = None,
            **fields: Any) -> Command:
    """One planned command for a writer process."""
    planned: Command = {
        "method": method, "case_id": str(case_id),
        "actor": actor.model_dump(mode="json"), "fields": fields,
    }
    if event_id is not None:
        planned["event_id"] = str(event_id)
    return planned


Writer = tuple["subprocess.Popen[str]", Path, Path]
"""A running writer process, the file it reports to, and the file its stderr goes to."""


def start_writers(mode: str, arguments: list[list[str]], workdir: Path) -> list[Writer]:
    """Start one `tests.concurrent_writer` process per argument list."""
    writers: list[Writer] = []
    for number, rest in enumerate(arguments):
        results_path = workdir / f"{mode}-results-{number}.jsonl"
        stderr_path = workdir / f"{mode}-stderr-{number}.txt"
        with stderr_path.open("w") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-m", "tests.concurrent_writer", mode, *rest, str(results_path)],
                cwd=REPOSITORY, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                text=True,
            )
        writers.append((process, results_path, stderr_path))
    return writers


def when_all_ready(writers: list[Writer], line: str) -> None:
    """Wait until every writer is ready, then give them all `line` at once (a starting shot)."""
    for process, _, stderr_path in writers:
        assert process.stdout is not None
        if process.stdout.readline().strip() != "ready":
            process.wait(timeout=WRITER_TIMEOUT)
            pytest.fail(f"a writer stopped before it was ready:\n{stderr_path.read_text()}")
    for process, _, _ in writers:
        assert process.stdin is not None
        process.stdin.write(line + "\n")
        process.stdin.flush()


def reports_of(writers: list[Writer]) -> list[list[Result]]:
    """Let the writers finish, and read what each reported."""
    try:
        for process, _, stderr_path in writers:
            assert process.stdin is not None
            process.stdin.close()
            process.wait(timeout=WRITER_TIMEOUT)
            assert process.returncode == 0, f"a writer failed:\n{stderr_path.read_text()}"
    finally:
        stop(writers)
    return [
        [json.loads(line) for line in path.read_text().splitlines()] for _, path, _ in writers
    ]


def stop(writers: list[Writer]) -> None:
    """End the writers that are still running (a story failed) and release their pipes."""
    for process, _, _ in writers:
        if process.poll() is None:
            process.kill()
            process.wait()
        for pipe in (process.stdin, process.stdout):
            if pipe is not None and not pipe.closed:
                pipe.close()


def run_writers(url: str, plans: list[list[Command]], workdir: Path) -> list[list[Result]]:
    """One process per plan, all recording on the ledger at `url` from the same moment."""
    arguments = []
    for number, plan in enumerate(plans):
        plan_path = workdir / f"plan-{number}.json"
        plan_path.write_text(json.dumps({"commands": plan}))
        arguments.append([url, str(plan_path)])
    writers = start_writers("record", arguments, workdir)
    try:
        when_all_ready(writers, "go")
    except BaseException:
        stop(writers)
        raise
    return reports_of(writers)


def run_openers(mode: str, urls: list[str], workdir: Path) -> list[Result]:
    """WRITERS processes that, round by round, all open (or create) the ledger at one URL."""
    writers = start_writers(mode, [[] for _ in range(WRITERS)], workdir)
    try:
        for url in urls:
            when_all_ready(writers, url)
        when_all_ready(writers, "")
    except BaseException:
        stop(writers)
        raise
    return [r for report in reports_of(writers) for r in report]


@contextmanager
def empty_databases(database_url: str, count: int, workdir: Path) -> Iterator[list[str]]:
    """`count` more empty databases of the kind `database_url` is, removed afterwards."""
    if database_url.startswith("sqlite"):
        yield [f"sqlite:///{workdir / f'round-{n}.sqlite'}" for n in range(count)]
        return
    server, _, query = database_url.partition("?")
    schema = parse_qs(query)["schema"][0]
    schemas = [f"{schema}_{n}" for n in range(count)]
    with psycopg.connect(server, autocommit=True) as connection:
        for name in schemas:
            connection.execute(f"CREATE SCHEMA {name}")
    try:
        yield [f"{server}?schema={name}" for name in schemas]
    finally:
        with psycopg.connect(server, autocommit=True) as connection:
            for name in schemas:
                connection.execute(f"DROP SCHEMA {name} CASCADE")


# ---- setting the scene ----------------------------------------------------------------


def new_ledger_with_cases(url: str, count: int) -> tuple[list[UUID], set[UUID]]:
    """A ledger with `count` registered cases; their ids, and the ids of every event so far."""
    an_hour_ago = system_clock() - timedelta(hours=1)
    case_ids = []
    with CaseLedger.create(url, actor=RECTOR, reader=TILSYN) as ledger:
        for number in range(count):
            undring = ledger.register_undring(
                actor=TEACHER, child_ref=f"Elev-{number}", child_birth_date="2014-05-01",
                unit="Fossen skole", service="skole", noticed_at=an_hour_ago,
                occurred_at=an_hour_ago, observations="Trekker seg unna i friminuttene.",
            )
            case_ids.append(undring.case_id)
        stored = {event.event_id for event in ledger.all_events()}
    return case_ids, stored


# ---- checking the store against the reports --------------------------------------------


def no_escaped_errors(results: Iterable[Result]) -> None:
    """Every writer was answered with an event or a LedgerError, never anything else."""
    errors = [r for r in results if r["outcome"] == "error"]
    assert not errors, "errors escaped the ledger:\n" + "\n".join(
        f"{r['method']} on {r.get('case_id') or r.get('url')}: {r['error']}\n{r['traceback']}"
        for r in errors[:3]
    )


def read_back(url: str, case_ids: Iterable[UUID]) -> tuple[list[Any], dict[UUID, list[CaseEvent]]]:
    """The notification log and each case's history, from a freshly opened ledger."""
    with CaseLedger.open(url, reader=TILSYN) as ledger:
        log = list(ledger.all_events())
        histories = {case_id: ledger.history(case_id) for case_id in case_ids}
    return log, histories


def assert_read_models_follow_the_log(url: str, case_ids: Iterable[UUID]) -> None:
    """The case summaries the writers' inline catch-ups kept equal a fold of each history."""
    now = system_clock()
    with CaseLedger.open(url, clock=lambda: now, reader=TILSYN) as ledger:
        for case_id in case_ids:
            assert ledger.summary(case_id) == summarise(ledger.case(case_id), now), case_id


def assert_store_consistent(
    log: list[Any], histories: dict[UUID, list[CaseEvent]], results: list[Result],
    before: set[UUID],
) -> None:
    """Each accepted command stored once, at the sequence it was told; no refused one stored;
    sequences 1..n; the notification log lists every event once; nothing else was stored."""
    logged = Counter(event.event_id for event in log)
    doubled = [event_id for event_id, times in logged.items() if times > 1]
    assert not doubled, f"events listed more than once in the notification log: {doubled}"

    accepted = {UUID(r["event_id"]): r for r in results if r["outcome"] == "accepted"}
    refused = {UUID(r["event_id"]) for r in results if r["outcome"] == "refused"}
    assert len(accepted) == sum(r["outcome"] == "accepted" for r in results), (
        "one event_id was accepted twice"
    )
    assert set(logged) == before | set(accepted), (
        f"lost: {set(accepted) - set(logged)}; stored but not accepted: "
        f"{set(logged) - before - set(accepted)}"
    )
    assert not (refused - set(accepted)) & set(logged), "a refused command's event was stored"

    stored = {event.event_id: event for events in histories.values() for event in events}
    for event_id, result in accepted.items():
        event = stored[event_id]
        assert str(event.case_id) == result["case_id"]
        assert event.sequence == result["sequence"]
    for case_id, events in histories.items():
        assert [e.sequence for e in events] == list(range(1, len(events) + 1)), case_id
        assert len({e.event_id for e in events}) == len(events), case_id
        in_log = [e for e in log if isinstance(e, CaseEvent) and e.case_id == case_id]
        assert in_log == events, f"the log and the history of {case_id} differ"


# ---- the stories ------------------------------------------------------------------------

ACTIONS_PER_WRITER = 40
CASES = 5


def test_four_teachers_recording_on_the_same_cases_at_once_lose_and_double_nothing(
    database_url: str, tmp_path: Path
) -> None:
    case_ids, before = new_ledger_with_cases(database_url, CASES)
    plans = [
        [
            command(method, case_ids[n % CASES], TEACHER, **fields)
            for n in range(ACTIONS_PER_WRITER)
            for method, fields in [EVERYDAY_ACTIONS[(n + writer) % len(EVERYDAY_ACTIONS)]]
        ]
        for writer in range(WRITERS)
    ]

    reports = run_writers(database_url, plans, tmp_path)

    results = [r for report in reports for r in report]
    assert len(results) == WRITERS * ACTIONS_PER_WRITER
    no_escaped_errors(results)
    refusals = Counter(r["code"] for r in results if r["outcome"] == "refused")
    assert not refusals, f"everyday actions were refused: {dict(refusals)}"
    log, histories = read_back(database_url, case_ids)
    assert_store_consistent(log, histories, results, before)
    assert sum(len(events) for events in histories.values()) == CASES + len(results)
    assert_read_models_follow_the_log(database_url, case_ids)


RACES = 6
"""Cases raced over in the second story; each is one race of each kind."""


def test_racing_writers_cannot_answer_a_handover_twice_involve_a_service_twice_or_store_an_event_twice(
    database_url: str, tmp_path: Path
) -> None:
    case_ids, _ = new_ledger_with_cases(database_url, RACES)
    with CaseLedger.open(database_url, reader=TILSYN) as ledger:
        a_minute_ago = system_clock() - timedelta(minutes=1)
        for case_id in case_ids:
            ledger.give_consent(
                case_id, actor=TEACHER, given_by="guardians", services=["helsestasjon"],
                purpose="Samarbeid med helsesykepleier", information="Observasjonene",
                occurred_at=a_minute_ago,
            )
            ledger.propose_handover(
                case_id, actor=TEACHER, to_person=SPECIAL_TEACHER.person, to_service="skole",
                occurred_at=a_minute_ago,
            )
        before = {event.event_id for event in ledger.all_events()}
    shared_ids = {case_id: uuid4() for case_id in case_ids}
    plans = []
    for writer in range(WRITERS):
        answer = (
            command("accept_handover", case_id, SPECIAL_TEACHER)
            if writer % 2 == 0 else
            command("decline_handover", case_id, SPECIAL_TEACHER, reason="Har ikke kapasitet.")
            for case_id in case_ids
        )
        plan = []
        for case_id, answering in zip(case_ids, answer, strict=True):
            plan += [
                answering,
                command("involve_service", case_id, TEACHER, service="helsestasjon",
                        contact=HEALTH_NURSE.person),
                command("share_with_leader", case_id, TEACHER, event_id=shared_ids[case_id],
                        leader="Rita Rektor", how="samtale"),
            ]
        plans.append(plan)

    reports = run_writers(database_url, plans, tmp_path)

    results = [r for report in reports for r in report]
    no_escaped_errors(results)
    log, histories = read_back(database_url, case_ids)
    assert_store_consistent(log, histories, results, before)
    for case_id in case_ids:
        on_case = [r for r in results if r["case_id"] == str(case_id)]
        answers = [r for r in on_case if r["method"] in ("accept_handover", "decline_handover")]
        involves = [r for r in on_case if r["method"] == "involve_service"]
        shares = [r for r in on_case if r["method"] == "share_with_leader"]
        assert outcomes(answers) == {"accepted": 1, "no_pending_handover": WRITERS - 1}
        assert outcomes(involves) == {"accepted": 1, "service_already_involved": WRITERS - 1}
        assert outcomes(shares) == {"accepted": 1, "duplicate_event": WRITERS - 1}
        history = histories[case_id]
        assert sum(isinstance(e, StafettHandoverAccepted | StafettHandoverDeclined)
                   for e in history) == 1
        assert sum(isinstance(e, ServiceInvolved) for e in history) == 1
        assert [e.event_id for e in history].count(shared_ids[case_id]) == 1
    assert_read_models_follow_the_log(database_url, case_ids)


def outcomes(results: list[Result]) -> dict[str, int]:
    """How the racing commands ended: `accepted`, or the code each refusal named."""
    return dict(Counter(
        str(r["code"] if r["outcome"] == "refused" else r["outcome"]) for r in results
    ))


# ---- opening and creating at the same moment -------------------------------------------

ROUNDS = 6
"""Rounds of the opening stories; in each, every writer process opens at the same moment."""


def test_teachers_opening_the_ledger_at_the_same_moment_all_get_in(
    database_url: str, tmp_path: Path
) -> None:
    new_ledger_with_cases(database_url, 1)

    results = run_openers("open", [database_url] * ROUNDS, tmp_path)

    no_escaped_errors(results)
    assert outcomes(results) == {"opened": WRITERS * ROUNDS}


def test_people_creating_the_same_ledger_at_once_make_one_and_the_others_hear_it_exists(
    database_url: str, tmp_path: Path
) -> None:
    with empty_databases(database_url, ROUNDS, tmp_path) as urls:
        results = run_openers("create", urls, tmp_path)

        no_escaped_errors(results)
        for url in urls:
            assert outcomes([r for r in results if r["url"] == url]) == {
                "created": 1, "ledger_exists": WRITERS - 1,
            }
            with CaseLedger.open(url, reader=TILSYN) as ledger:
                events = list(ledger.all_events())
            assert len(events) == 1
            assert isinstance(events[0], RulebookAdopted)
