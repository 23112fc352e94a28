"""Property: whatever valid actions are recorded, re-reading a case gives the state built live."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.application import CaseLedger
from ledger.case import Case
from ledger.errors import RuleViolation
from ledger.events import Actor
from tests.cast import (
    BARNEVERN_WORKER,
    HEALTH_NURSE,
    PPT_ADVISER,
    RECTOR,
    TEACHER,
    TILSYN,
    SetClock,
)

PEOPLE = [TEACHER, RECTOR, PPT_ADVISER, HEALTH_NURSE, BARNEVERN_WORKER]
SERVICES = ["ppt", "helsestasjon", "barnevern"]

Step = Callable[[CaseLedger, UUID, Case, st.DataObject], Any]


def _tiltak(case: Case, data: st.DataObject) -> UUID:
    known = list(case.tiltak) or [uuid4()]
    return data.draw(st.sampled_from(known))


def _consent(case: Case, data: st.DataObject) -> UUID:
    known = list(case.consents) or [uuid4()]
    return data.draw(st.sampled_from(known))


STEPS: dict[str, Step] = {
    "share": lambda lg, c, s, d: lg.share_with_leader(
        c, actor=d.draw(st.sampled_from(PEOPLE)), leader="Rita Rektor", how="samtale"),
    "flag": lambda lg, c, s, d: lg.flag_track(
        c, actor=TEACHER, flag=d.draw(st.sampled_from(["skolemiljo", "violence_suspected"])),
        reason="Nye opplysninger"),
    "clear": lambda lg, c, s, d: lg.clear_flag(
        c, actor=RECTOR, flag=d.draw(st.sampled_from(["skolemiljo", "violence_suspected"])),
        reason="Barnevernet har konkludert"),
    "report": lambda lg, c, s, d: lg.report_to_barnevern(c, actor=RECTOR, to="barnevern"),
    "invite": lambda lg, c, s, d: lg.invite_to_samtale(
        c, actor=TEACHER, with_whom=d.draw(st.sampled_from([["guardians"], ["child"]])),
        planned_at=lg.clock() + timedelta(days=2)),
    "samtale": lambda lg, c, s, d: lg.hold_samtale(
        c, actor=TEACHER, participants=d.draw(st.sampled_from([["guardians", "child"], ["child"]])),
        child_view="Vil ha det bedre i friminuttene", summary="Samtale gjennomført"),
    "consent": lambda lg, c, s, d: lg.give_consent(
        c, actor=TEACHER, given_by=d.draw(st.sampled_from(["guardians", "child"])),
        services=d.draw(st.lists(st.sampled_from(SERVICES), min_size=1, max_size=3, unique=True)),
        purpose="Samarbeid", information="Undringsnotat"),
    "withdraw": lambda lg, c, s, d: lg.withdraw_consent(
        c, actor=TEACHER, consent_id=_consent(s, d), withdrawn_by="guardians",
        services=d.draw(st.sampled_from([None, ["ppt"]]))),
    "involve": lambda lg, c, s, d: lg.involve_service(
        c, actor=TEACHER, service=d.draw(st.sampled_from(SERVICES)), contact="Kontakt"),
    "release": lambda lg, c, s, d: lg.release_service(
        c, actor=RECTOR, service=d.draw(st.sampled_from(SERVICES)), reason="Ferdig"),
    "assign": lambda lg, c, s, d: lg.assign_stafettholder(
        c, actor=RECTOR, person=d.draw(st.sampled_from(["Kari Lærer", "Per PPT"])),
        service=d.draw(st.sampled_from(["skole", "ppt"]))),
    "propose": lambda lg, c, s, d: lg.propose_handover(
        c, actor=d.draw(st.sampled_from([RECTOR, TEACHER])),
        to_person=d.draw(st.sampled_from(["Per PPT", "Kari Lærer"])), to_service="ppt"),
    "accept": lambda lg, c, s, d: lg.accept_handover(c, actor=d.draw(st.sampled_from(PEOPLE))),
    "decline": lambda lg, c, s, d: lg.decline_handover(
        c, actor=d.draw(st.sampled_from(PEOPLE)), reason="Har ikke kapasitet"),
    "plan": lambda lg, c, s, d: lg.plan_tiltak(
        c, actor=TEACHER, description="Fast voksen i friminuttene", goal="Trygghet",
        problem=d.draw(st.sampled_from([None, "Alene i friminutt"])), responsible="Kari Lærer",
        starts_at=lg.clock().date(), evaluate_by=lg.clock().date() + timedelta(days=21)),
    "start": lambda lg, c, s, d: lg.start_tiltak(c, actor=TEACHER, tiltak_id=_tiltak(s, d)),
    "complete": lambda lg, c, s, d: lg.complete_tiltak(c, actor=TEACHER, tiltak_id=_tiltak(s, d)),
    "cancel": lambda lg, c, s, d: lg.cancel_tiltak(
        c, actor=TEACHER, tiltak_id=_tiltak(s, d), reason="Passet ikke"),
    "evaluate": lambda lg, c, s, d: lg.record_evaluation(
        c, actor=TEACHER, tiltak_ids=[_tiltak(s, d)], outcome="effect_not_there_yet",
        child_view=d.draw(st.sampled_from([None, "Litt bedre"]))),
    "decide": lambda lg, c, s, d: lg.record_decision(
        c, actor=RECTOR, decided_by="Rita Rektor",
        child_view_weighed="Barnet ønsker mer hjelp", reason="Vurdering",
        **d.draw(st.sampled_from([
            {"outcome": "continue"}, {"outcome": "level_up", "to_level": s.level + 1},
            {"outcome": "level_down", "to_level": max(s.level - 1, 0)},
        ]))),
    "level": lambda lg, c, s, d: lg.change_level(
        c, actor=RECTOR, from_level=s.level, to_level=s.pending_level or s.level, reason="Beslutning"),
    "close": lambda lg, c, s, d: lg.close_case(
        c, actor=RECTOR, reason="Ingen videre bekymring", closing_note="Avsluttet etter evaluering"),
    "reopen": lambda lg, c, s, d: lg.reopen_case(c, actor=RECTOR, reason="Ny uro"),
    "correct": lambda lg, c, s, d: lg.correct_entry(
        c, actor=TEACHER, corrects=s.events[0].event_id,
        fields={"observations": d.draw(st.sampled_from(["Rettet notat", ""]))}, why="Skrivefeil"),
    "bright": lambda lg, c, s, d: lg.log_bright_spot(
        c, actor=d.draw(st.sampled_from(PEOPLE)), observation="Smilte i dag"),
}


def comparable(case: Case) -> dict[str, Any]:
    state = dict(case.__dict__)
    state.pop("pending")
    return state


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_sequence_of_actions_reads_back_as_the_state_built_while_recording(
    ledger: CaseLedger, clock: SetClock, database_url: str, data: st.DataObject
) -> None:
    registering: Actor = TEACHER
    undring = ledger.register_undring(
        actor=registering, child_ref="Elev-3", child_birth_date="2009-01-15", unit="Fossen skole",
        service="skole", noticed_at=clock.now - timedelta(hours=1), observations="Sliten og lei seg.",
        tracks=data.draw(st.sampled_from([[], ["skolemiljo"]])),
        violence_suspected=data.draw(st.booleans()),
    )
    case_id = undring.case_id
    built = Case.replay(case_id, [undring])
    for name in data.draw(st.lists(st.sampled_from(sorted(STEPS)), min_size=1, max_size=25)):
        clock.advance(hours=data.draw(st.integers(1, 72)))
        try:
            event = STEPS[name](ledger, case_id, built, data)
        except RuleViolation:
            continue
        built._apply(event)
    with CaseLedger.open(database_url, clock=clock, reader=TILSYN) as fresh:
        assert comparable(fresh.case(case_id)) == comparable(built)
