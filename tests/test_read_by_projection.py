"""Reads decided from the access projection, and commands that skip the replay.

A read of one case is checked and logged in one transaction against the access projection
when that projection has reached the case's newest event and a grant that holds whatever
the time (own service, leader, a holder of the own service, tilsyn) lets the reader in.
Everything else — a consent, a refusal, projections behind the log — is decided by the
access policy on the folded case, as before. Either way the decision is the policy's.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from ledger.application import CaseLedger
from ledger.case import Case
from ledger.errors import AccessRefused
from ledger.events import Actor
from ledger.policies.access import refusal
from tests.cast import (
    COORDINATOR,
    HEALTH_NURSE,
    PPT_ADVISER,
    RECTOR,
    SPECIAL_TEACHER,
    TEACHER,
    TILSYN,
    SetClock,
)
from tests.stories import give_consent, register_undring

AREA_LEADER = Actor(
    person="Eva Enhetsleder", role="leader", service="skole", unit="Oppvekstkontoret"
)
NEW_LEADER = Actor(person="Nils Ny", role="leader", service="skole", unit="Oppvekstkontoret")
OTHER_SCHOOL_TEACHER = Actor(
    person="Olav Annen", role="staff", service="skole", unit="Vestby skole"
)
SCHOOL_NURSE = Actor(
    person="Siri Skolehelse", role="staff", service="skole", unit="Fossen skole"
)
"""A member of the school's own staff made stafettholder (a person grant, no consent)."""

READERS: dict[str, Actor] = {
    "teacher of the own school": SPECIAL_TEACHER,
    "rektor of the own school": RECTOR,
    "area leader the undring was shared with": AREA_LEADER,
    "stafettholder of the own school": SCHOOL_NURSE,
    "teacher at another school": OTHER_SCHOOL_TEACHER,
    "health nurse holding the stafett under a consent": HEALTH_NURSE,
    "PPT under a consent": PPT_ADVISER,
    "BTI coordinator": COORDINATOR,
    "tilsyn": TILSYN,
}
TIMELESS = {SPECIAL_TEACHER, RECTOR, AREA_LEADER, SCHOOL_NURSE, TILSYN}
"""The readers let in by a grant that holds whatever the time: the projection decides."""


def told(ledger: CaseLedger, clock: SetClock) -> dict[str, UUID]:
    """Two cases of Fossen skole: one with a consent for PPT and helsestasjon and the health
    nurse as holder, one with the school's own nurse as holder and no consent."""
    cases = {}
    for name in ("consent", "own"):
        case_id = register_undring(ledger, clock)
        ledger.share_with_leader(case_id, actor=TEACHER, leader=AREA_LEADER.person, how="samtale")
        cases[name] = case_id
    give_consent(ledger, cases["consent"], "ppt", "helsestasjon")
    ledger.assign_stafettholder(cases["consent"], actor=RECTOR, person=HEALTH_NURSE.person,
                                service="helsestasjon")
    ledger.assign_stafettholder(cases["own"], actor=RECTOR, person=SCHOOL_NURSE.person,
                                service="skole")
    clock.advance(days=1)
    return cases


@pytest.fixture
def cases(ledger: CaseLedger, clock: SetClock) -> dict[str, UUID]:
    return told(ledger, clock)


def replays(ledger: CaseLedger) -> list[UUID]:
    """Make every replay of a case by `ledger` be counted (the list returned grows)."""
    seen: list[UUID] = []
    load = ledger._load

    def counted(case_id: UUID) -> Case:
        seen.append(case_id)
        return load(case_id)

    ledger._load = counted  # type: ignore[method-assign]
    return seen


@pytest.mark.parametrize("who", list(READERS))
@pytest.mark.parametrize("case_key", ["consent", "own"])
def test_every_reader_gets_the_policys_decision_whether_the_projection_or_the_case_decides(
    ledger: CaseLedger, clock: SetClock, cases: dict[str, UUID], who: str, case_key: str
) -> None:
    reader, case_id = READERS[who], cases[case_key]
    expected = refusal(ledger.case_for_daemon(case_id), reader, clock.now, write=False)
    view = ledger.reading_as(reader, purpose="oppfølging")
    replayed = replays(view)

    if expected is None:
        assert view.summary(case_id).case_id == case_id
    else:
        with pytest.raises(AccessRefused) as caught:
            view.summary(case_id)
        assert caught.value.code == expected

    by_projection = expected is None and reader in TIMELESS
    assert replayed == ([] if by_projection else [case_id])
    last = ledger.read_audit.entries(case_id)[-1]
    assert (last.person, last.what, last.outcome, last.code) == (
        reader.person, "show", "allowed" if expected is None else "refused", expected
    )


def test_the_reads_that_need_only_the_case_id_are_decided_by_the_projection_too(
    ledger: CaseLedger, cases: dict[str, UUID]
) -> None:
    teacher = ledger.reading_as(SPECIAL_TEACHER, purpose="oppfølging")
    replayed = replays(teacher)
    case_id = cases["own"]

    assert teacher.access(case_id)
    assert teacher.access_log(case_id)
    assert teacher.admit(case_id, "timeline") is not None

    assert replayed == []
    assert [e.what for e in ledger.read_audit.entries(case_id)] == [
        "access", "access_log", "timeline"
    ]


def test_a_read_while_the_projections_are_behind_is_decided_by_the_policy_on_the_case(
    database_url: str, ledger: CaseLedger, clock: SetClock, cases: dict[str, UUID]
) -> None:
    case_id = cases["own"]
    # A server set-up: writers and readers leave the projections to a follower that is down.
    with CaseLedger.open(database_url, clock=clock, inline_projections=False,
                         reader=AREA_LEADER) as server:
        clock.advance(minutes=5)
        server.share_with_leader(case_id, actor=TEACHER, leader=NEW_LEADER.person, how="samtale")

        with pytest.raises(AccessRefused) as caught:
            server.summary(case_id)  # the projection still names the area leader

        assert caught.value.code == "other_unit"
        assert server.reading_as(NEW_LEADER).summary(case_id).case_id == case_id


def test_a_read_catches_the_projections_up_first_when_it_may(
    database_url: str, ledger: CaseLedger, clock: SetClock, cases: dict[str, UUID]
) -> None:
    case_id = cases["own"]
    with CaseLedger.open(database_url, clock=clock, inline_projections=False) as writer:
        writer.share_with_leader(case_id, actor=TEACHER, leader=NEW_LEADER.person, how="samtale")
    new_leader = ledger.reading_as(NEW_LEADER)
    replayed = replays(new_leader)

    assert new_leader.summary(case_id).case_id == case_id
    assert replayed == []


def test_an_unknown_case_is_unknown_and_not_logged(ledger: CaseLedger) -> None:
    unknown = UUID(int=7)

    with pytest.raises(Exception, match=r"\[case_unknown\]"):
        ledger.reading_as(RECTOR).summary(unknown)
    assert ledger.read_audit.entries(unknown) == []


def test_a_query_with_the_projections_at_the_head_does_not_catch_up(
    ledger: CaseLedger, cases: dict[str, UUID]
) -> None:
    catch_ups: list[int] = []
    catch_up = ledger.read_models.catch_up
    ledger.read_models.catch_up = lambda: catch_ups.append(catch_up()) or 0  # type: ignore[method-assign]
    rector = ledger.reading_as(RECTOR)

    rector.list_cases()
    rector.deadlines()
    rector.stafett()
    rector.summary(cases["own"])
    assert catch_ups == []

    ledger.log_bright_spot(cases["own"], actor=TEACHER, observation="Lo i friminuttet.")
    assert catch_ups == []  # a command brings them up to date itself, inside its save
    head = ledger.read_models.db.max_position()
    assert set(ledger.read_models.runner.positions().values()) == {head}


# ---- commands that skip the replay ------------------------------------------------------


def fields_of(case: Case) -> dict[str, Any]:
    """A case's state as comparable values (events by their stored JSON shape)."""
    state = dict(vars(case))
    state["events"] = [e.model_dump_json() for e in case.events]
    state["decisions"] = [e.model_dump_json() for e in case.decisions]
    state["meetings"] = [e.model_dump_json() for e in case.meetings]
    return state


def test_the_case_a_command_keeps_is_the_case_its_stored_events_give(
    ledger: CaseLedger, clock: SetClock, cases: dict[str, UUID]
) -> None:
    case_id = cases["consent"]
    clock.advance(hours=2)
    ledger.log_bright_spot(case_id, actor=TEACHER, observation="Hadde med matpakke.")
    ledger.withdraw_consent(case_id, actor=TEACHER,
                            consent_id=next(iter(ledger.case_for_daemon(case_id).consents)),
                            withdrawn_by="guardians")

    kept = ledger._written[case_id]

    assert fields_of(kept) == fields_of(ledger.case_for_daemon(case_id))


def test_a_command_on_a_case_another_process_wrote_to_since_is_checked_again_and_stored(
    database_url: str, ledger: CaseLedger, clock: SetClock, cases: dict[str, UUID]
) -> None:
    case_id = cases["own"]
    ledger.log_bright_spot(case_id, actor=TEACHER, observation="Første.")
    with CaseLedger.open(database_url, clock=clock) as other:
        other.log_bright_spot(case_id, actor=TEACHER, observation="Fra en annen prosess.")

    stored = ledger.log_bright_spot(case_id, actor=TEACHER, observation="Tredje.")

    history = ledger.case_for_daemon(case_id).events
    assert [e.sequence for e in history] == list(range(1, len(history) + 1))
    assert history[-1].event_id == stored.event_id
    assert [getattr(e, "observation", None) for e in history[-3:]] == [
        "Første.", "Fra en annen prosess.", "Tredje."
    ]


def test_an_erased_case_is_not_kept_in_memory(
    ledger: CaseLedger, clock: SetClock, cases: dict[str, UUID]
) -> None:
    case_id = cases["own"]
    ledger.log_bright_spot(case_id, actor=TEACHER, observation="Før slettingen.")
    assert case_id in ledger._written
    ledger.close_case(case_id, actor=RECTOR, reason="Uroen er borte.",
                      closing_note="Eleven trives, sier foresatte.")
    clock.advance(days=ledger.rulebook.retention_years.value * 366)

    ledger.erase_case(case_id, actor=RECTOR, reason="Lagringstiden er ute.")

    assert case_id not in ledger._written


def test_an_expired_consent_is_judged_at_the_moment_of_reading(
    ledger: CaseLedger, clock: SetClock
) -> None:
    case_id = register_undring(ledger, clock)
    give_consent(ledger, case_id, "ppt", valid_until=(clock.now + timedelta(days=1)).date())
    ppt = ledger.reading_as(PPT_ADVISER)
    assert ppt.summary(case_id).case_id == case_id

    clock.advance(days=3)

    with pytest.raises(AccessRefused) as caught:
        ppt.summary(case_id)
    assert caught.value.code == "consent_expired"
