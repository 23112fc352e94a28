"""The read audit: every read of a case is written down, refused ones too, and never erased."""

from __future__ import annotations

import json
from uuid import UUID

import pytest
from eventsourcing.persistence import PersistenceError

from ledger.access_log import WHATS
from ledger.application import CaseLedger
from ledger.errors import AccessRefused
from ledger.events import Actor
from tests.cast import (
    BARNEVERN_WORKER,
    COORDINATOR,
    HEALTH_NURSE,
    PEDAGOGUE,
    PPT_ADVISER,
    RECTOR,
    SPECIAL_TEACHER,
    STYRER,
    TEACHER,
    TILSYN,
    SetClock,
)
from tests.stories import give_consent, register_undring
from tests.test_cli import bti, init, register
from tests.test_read_access import LOGGED_AS, OTHER_SCHOOL_TEACHER, READS


@pytest.mark.parametrize("what", list(READS))
def test_every_read_of_a_case_writes_one_entry_with_who_when_what_and_why(
    ledger: CaseLedger, clock: SetClock, what: str
) -> None:
    case_id = register_undring(ledger, clock)
    clock.advance(hours=2)
    teacher = ledger.reading_as(SPECIAL_TEACHER, purpose="forberede samtalen")

    READS[what](teacher, case_id, clock)

    entries = ledger.read_audit.entries(case_id)
    assert [(e.person, e.role, e.service, e.unit) for e in entries] == [
        (SPECIAL_TEACHER.person, "staff", "skole", "Fossen skole")
    ]
    assert [(e.at, e.what, e.purpose, e.outcome, e.code) for e in entries] == [
        (clock.now, LOGGED_AS.get(what, what), "forberede samtalen", "allowed", None)
    ]


def test_every_kind_of_read_has_its_name_in_the_log() -> None:
    # `find`, the search by fødselsnummer, leaves a refused case out rather than raising:
    # its story is in test_national_id.
    assert {LOGGED_AS.get(what, what) for what in READS} | {"find"} == set(WHATS)


@pytest.mark.parametrize("what", list(READS))
def test_a_refused_read_writes_a_refused_entry_naming_why(
    ledger: CaseLedger, clock: SetClock, what: str
) -> None:
    case_id = register_undring(ledger, clock)
    other_school = ledger.reading_as(OTHER_SCHOOL_TEACHER, purpose="nysgjerrig")

    with pytest.raises(AccessRefused):
        READS[what](other_school, case_id, clock)

    [entry] = ledger.read_audit.entries(case_id)
    assert (entry.person, entry.what, entry.outcome, entry.code, entry.purpose) == (
        OTHER_SCHOOL_TEACHER.person, LOGGED_AS.get(what, what), "refused", "other_unit",
        "nysgjerrig",
    )


def test_reading_the_access_log_is_itself_logged_so_tilsyn_sees_who_looked(
    ledger: CaseLedger, clock: SetClock
) -> None:
    case_id = register_undring(ledger, clock)
    ledger.reading_as(SPECIAL_TEACHER).history(case_id)

    entries = ledger.reading_as(TILSYN, purpose="tilsyn").access_log(case_id)

    assert [(e.person, e.what) for e in entries] == [
        (SPECIAL_TEACHER.person, "history"), (TILSYN.person, "access_log"),
    ]


def test_the_database_refuses_to_change_or_delete_an_entry(
    ledger: CaseLedger, clock: SetClock
) -> None:
    case_id = register_undring(ledger, clock)
    ledger.history(case_id)
    table = ledger.read_audit.table

    for statement in (f"UPDATE {table} SET person = 'Ingen'", f"DELETE FROM {table}"):
        with pytest.raises(PersistenceError, match="append-only"), \
                ledger.read_models.db.transaction() as cursor:
            cursor.execute(statement)

    [entry] = ledger.read_audit.entries(case_id)
    assert (entry.person, entry.what) == (TILSYN.person, "history")


def test_postgresql_refuses_to_truncate_the_log(ledger: CaseLedger, clock: SetClock) -> None:
    if ledger.read_models.db.dialect != "postgres":
        pytest.skip("TRUNCATE is PostgreSQL's; SQLite's DELETE without WHERE is refused above")
    ledger.history(register_undring(ledger, clock))

    with pytest.raises(PersistenceError, match="append-only"), \
            ledger.read_models.db.transaction() as cursor:
        cursor.execute(f"TRUNCATE {ledger.read_audit.table}")


def test_listings_show_only_the_cases_the_reader_may_read(
    ledger: CaseLedger, clock: SetClock
) -> None:
    school_case = register_undring(ledger, clock)
    barnehage_case = register_undring(ledger, clock, child_ref="Barn-4", actor=PEDAGOGUE)
    give_consent(ledger, school_case, "ppt")
    ledger.assign_stafettholder(barnehage_case, actor=STYRER, person=PEDAGOGUE.person,
                                service="barnehage")

    def listed(reader: Actor) -> tuple[set[UUID], set[UUID], set[UUID]]:
        view = ledger.reading_as(reader)
        return (
            {s.case_id for s in view.list_cases()},
            {d.case_id for d in view.deadlines()},
            {r.case_id for r in view.stafett()},
        )

    school, barnehage, both = {school_case}, {barnehage_case}, {school_case, barnehage_case}
    assert listed(TEACHER) == (school, school, school)
    assert listed(PPT_ADVISER) == (school, school, school)
    assert listed(PEDAGOGUE) == (barnehage, barnehage, barnehage)
    assert listed(HEALTH_NURSE) == (set(), set(), set())
    assert listed(BARNEVERN_WORKER) == (set(), set(), set())
    assert listed(OTHER_SCHOOL_TEACHER) == (set(), set(), set())
    assert listed(TILSYN) == (both, both, both)
    assert ledger.read_audit.entries(school_case) == []  # listings are not logged per case


def test_the_coordinator_is_refused_listings_that_name_cases(
    ledger: CaseLedger, clock: SetClock
) -> None:
    register_undring(ledger, clock)
    coordinator = ledger.reading_as(COORDINATOR)

    for listing in (coordinator.list_cases, coordinator.deadlines, coordinator.stafett):
        with pytest.raises(AccessRefused) as caught:
            listing()
        assert caught.value.code == "statistics_only"


def test_bti_access_log_shows_who_read_the_case_and_who_was_refused(sqlite_url: str) -> None:
    init(sqlite_url)
    case_id = register(sqlite_url)
    shown = bti(sqlite_url, "case", "show", case_id, BTI_PURPOSE="oppfølging")
    refused = bti(sqlite_url, "case", "history", case_id, BTI_UNIT="Vestby skole",
                  BTI_PERSON="Olav Annen")

    logged = bti(sqlite_url, "access", "log", case_id, "--json", BTI_PERSON=RECTOR.person,
                 BTI_ROLE="leader")
    table = bti(sqlite_url, "--lang", "en", "access", "log", case_id)

    assert shown.exit_code == 0, shown.output
    assert refused.exit_code == 1 and refused.stderr.endswith("[other_unit]\n")
    assert logged.exit_code == 0, logged.output
    assert [
        (e["person"], e["what"], e["purpose"], e["outcome"], e["code"])
        for e in json.loads(logged.stdout)
    ] == [
        ("Kari Lærer", "show", "oppfølging", "allowed", None),
        ("Olav Annen", "history", None, "refused", "other_unit"),
        ("Rita Rektor", "access_log", None, "allowed", None),
    ]
    assert table.exit_code == 0, table.output
    assert "refused [other_unit]" in table.stdout
    assert "4 entries in the access log." in table.stdout


def test_bti_reads_without_a_reader_are_refused_with_a_clear_sentence(sqlite_url: str) -> None:
    init(sqlite_url)
    case_id = register(sqlite_url)

    result = bti(sqlite_url, "--lang", "en", "case", "history", case_id, BTI_PERSON=None)

    assert result.exit_code == 1
    assert result.stderr == (
        "It must say who is reading the case. Give a reader (BTI_PERSON, BTI_ROLE, "
        "BTI_SERVICE and BTI_UNIT, or reader= in Python). [reader_required]\n"
    )


def test_a_whole_export_reads_every_case_and_is_refused_if_one_may_not_be_read(
    ledger: CaseLedger, clock: SetClock
) -> None:
    ours = register_undring(ledger, clock)
    clock.advance(hours=1)
    theirs = ledger.register_undring(
        actor=OTHER_SCHOOL_TEACHER, child_ref="Elev-40", child_birth_date="2013-09-01",
        unit=OTHER_SCHOOL_TEACHER.unit, service="skole", noticed_at=clock.now,
        observations="Sover i timene.",
    ).case_id
    teacher = ledger.reading_as(TEACHER, purpose="arkiv")
    with pytest.raises(AccessRefused):
        list(teacher.export_all())
    refused = [e for e in ledger.access_log(theirs) if e.what == "export"]
    assert [(e.person, e.outcome) for e in refused] == [(TEACHER.person, "refused")]
    everything = list(ledger.export_all())  # tilsyn reads every case
    assert {json.loads(line).get("case_id") for line in everything} >= {str(ours), str(theirs)}
