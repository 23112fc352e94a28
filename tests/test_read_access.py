"""Who may read a case: every reader × every read, as the access policy says (rule 4).

One ledger per database holds five cases of Fossen skole, the same story with the
guardians' consent in five states: given for PPT and helsestasjon (with the health nurse
as stafettholder), partial (helsestasjon only), expired, withdrawn, and none. Each reader
then tries each read of the case's personal data; a refused read names why and returns
nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from ledger.application import CaseLedger
from ledger.errors import AccessRefused, LedgerError
from ledger.events import Actor
from replay.asof import case_summary_as_of
from replay.report import build_report
from replay.timeline import case_timeline
from tests.cast import (
    COORDINATOR,
    HEALTH_NURSE,
    PPT_ADVISER,
    RECTOR,
    SPECIAL_TEACHER,
    START,
    TEACHER,
    TILSYN,
    SetClock,
)
from tests.conftest import fresh_schema
from tests.stories import give_consent, register_undring

AREA_LEADER = Actor(
    person="Eva Enhetsleder", role="leader", service="skole", unit="Oppvekstkontoret"
)
"""The leader the undrings were shared with, over several schools (not Fossen's own unit)."""
OTHER_SCHOOL_TEACHER = Actor(
    person="Olav Annen", role="staff", service="skole", unit="Vestby skole"
)

Read = Callable[[CaseLedger, UUID, SetClock], Any]

READS: dict[str, Read] = {
    "show": lambda lg, case_id, clock: lg.summary(case_id),
    "case": lambda lg, case_id, clock: lg.case(case_id),
    "history": lambda lg, case_id, clock: lg.history(case_id),
    "access": lambda lg, case_id, clock: lg.access(case_id),
    "export": lambda lg, case_id, clock: list(lg.export_case(case_id)),
    "timeline": lambda lg, case_id, clock: case_timeline(lg.admit(case_id, "timeline"), case_id),
    "report": lambda lg, case_id, clock: build_report(lg.admit(case_id, "report"), case_id),
    "as_of": lambda lg, case_id, clock: case_summary_as_of(
        lg.admit(case_id, "as_of"), case_id, clock.now
    ),
    "access_log": lambda lg, case_id, clock: lg.access_log(case_id),
    "reminders": lambda lg, case_id, clock: lg.reminders(case_id),
}
"""Every read of one case's personal data, by the name its access-log entry gets."""
LOGGED_AS = {"case": "show"}
"""`case` (the folded state) is logged as a `show`, like the summary."""


@dataclass(frozen=True)
class Story:
    """One ledger with the five cases, read at one moment after they were recorded."""

    ledger: CaseLedger
    clock: SetClock
    cases: dict[str, UUID]


def tell(url: str) -> Story:
    """Record the five cases, then move the clock past the expired consent's last day."""
    clock = SetClock(START)
    ledger = CaseLedger.create(url, actor=RECTOR, clock=clock)

    def new_case() -> UUID:
        case_id = register_undring(ledger, clock)
        ledger.share_with_leader(case_id, actor=TEACHER, leader=AREA_LEADER.person, how="samtale")
        return case_id

    cases = {name: new_case() for name in ("present", "partial", "expired", "withdrawn", "none")}
    give_consent(ledger, cases["present"], "ppt", "helsestasjon")
    ledger.assign_stafettholder(cases["present"], actor=RECTOR, person=HEALTH_NURSE.person,
                                service="helsestasjon")
    give_consent(ledger, cases["partial"], "helsestasjon")
    give_consent(ledger, cases["expired"], "ppt", valid_until=(START + timedelta(days=1)).date())
    withdrawn = give_consent(ledger, cases["withdrawn"], "ppt")
    ledger.withdraw_consent(cases["withdrawn"], actor=TEACHER, consent_id=withdrawn,
                            withdrawn_by="guardians")
    clock.advance(days=5)
    return Story(ledger, clock, cases)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def story(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Story]:
    """The five cases on a SQLite file, then in a PostgreSQL schema (built once per module)."""
    if request.param == "sqlite":
        told = tell(f"sqlite:///{tmp_path_factory.mktemp('reads') / 'bti.sqlite'}")
        yield told
        told.ledger.close()
        return
    request.getfixturevalue("postgres_ready")
    with fresh_schema() as url:
        told = tell(url)
        yield told
        told.ledger.close()


# (who, reader, which case, None if allowed else the refusal code)
MATRIX: list[tuple[str, Actor, str, str | None]] = [
    ("a teacher of the case's own school", SPECIAL_TEACHER, "present", None),
    ("the rektor of the case's own school", RECTOR, "present", None),
    ("the area leader the undring was shared with", AREA_LEADER, "present", None),
    ("a teacher at another school of the same service", OTHER_SCHOOL_TEACHER, "present",
     "other_unit"),
    ("the stafettholder from helsestasjon", HEALTH_NURSE, "present", None),
    ("PPT under a consent that covers it", PPT_ADVISER, "present", None),
    ("PPT under a partial consent that covers only helsestasjon", PPT_ADVISER, "partial",
     "consent_required"),
    ("helsestasjon under that partial consent", HEALTH_NURSE, "partial", None),
    ("PPT after its consent expired", PPT_ADVISER, "expired", "consent_expired"),
    ("PPT after its consent was withdrawn", PPT_ADVISER, "withdrawn", "consent_withdrawn"),
    ("PPT without any consent", PPT_ADVISER, "none", "consent_required"),
    ("the BTI coordinator", COORDINATOR, "present", "statistics_only"),
    ("tilsyn", TILSYN, "present", None),
]


def _id(who: str, what: str, refused: str | None) -> str:
    verdict = "may read" if refused is None else f"is refused ({refused})"
    return f"{who} {verdict}: {what}".replace(" ", "_")


@pytest.mark.parametrize(
    ("reader", "case_key", "refused", "what"),
    [
        pytest.param(reader, case_key, refused, what, id=_id(who, what, refused))
        for who, reader, case_key, refused in MATRIX
        for what in READS
    ],
)
def test_each_reader_reads_a_case_or_is_refused_as_the_access_policy_says(
    story: Story, reader: Actor, case_key: str, refused: str | None, what: str
) -> None:
    case_id = story.cases[case_key]
    view = story.ledger.reading_as(reader, purpose="oppfølging")

    if refused is None:
        assert READS[what](view, case_id, story.clock) is not None
    else:
        with pytest.raises(AccessRefused) as caught:
            READS[what](view, case_id, story.clock)
        assert caught.value.code == refused

    last = story.ledger.read_audit.entries(case_id)[-1]
    assert (last.person, last.what, last.outcome, last.code, last.purpose) == (
        reader.person, LOGGED_AS.get(what, what), "allowed" if refused is None else "refused",
        refused, "oppfølging",
    )


def test_a_ledger_opened_without_a_reader_refuses_every_read_and_says_who_is_missing(
    story: Story,
) -> None:
    case_id = story.cases["present"]
    nobody = story.ledger.reading_as(TILSYN)
    nobody.reader = None

    for what, read in READS.items():
        if what == "reminders":
            continue  # the daemon's operator's view, which holds no personal data
        with pytest.raises(LedgerError) as caught:
            read(nobody, case_id, story.clock)
        assert caught.value.code == "reader_required", what
    with pytest.raises(LedgerError, match=r"\[reader_required\]"):
        nobody.list_cases()


def test_a_withdrawn_consent_takes_read_access_away_at_once(
    ledger: CaseLedger, clock: SetClock
) -> None:
    case_id = register_undring(ledger, clock)
    consent_id = give_consent(ledger, case_id, "helsestasjon")
    ledger.assign_stafettholder(case_id, actor=RECTOR, person=HEALTH_NURSE.person,
                                service="helsestasjon")
    nurse = ledger.reading_as(HEALTH_NURSE)
    assert nurse.history(case_id)
    assert [s.case_id for s in nurse.list_cases()] == [case_id]

    clock.advance(minutes=1)
    ledger.withdraw_consent(case_id, actor=TEACHER, consent_id=consent_id,
                            withdrawn_by="guardians")

    with pytest.raises(AccessRefused) as caught:
        nurse.history(case_id)
    assert caught.value.code == "consent_withdrawn"
    assert nurse.list_cases() == []
    assert nurse.stafett() == []
    assert nurse.deadlines() == []


def test_a_refused_read_says_why_in_words_a_teacher_understands(story: Story) -> None:
    other_school = story.ledger.reading_as(OTHER_SCHOOL_TEACHER)

    with pytest.raises(AccessRefused) as caught:
        other_school.history(story.cases["present"])

    assert str(caught.value) == (
        "Saken hører til en annen enhet i tjenesten din. Bare ansatte ved sakens egen enhet, "
        "stafettholderen og tjenester med samtykke har tilgang til den. [other_unit]"
    )
