"""Story builders for the rule tests: cases begun and carried on as the handlingsveiledere tell.

Each builder records what the staff of Fossen skole (and the services around it) do, on the
ledger a test gives it, at the time the test's clock shows, and returns the id the test
needs next (a case, a consent, a tiltak).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from uuid import UUID

from ledger.application import CaseLedger
from ledger.events import Actor, CaseEvent, ConsentGiven, TiltakPlanned
from ledger.policies.calendar import local_date
from ledger.projections.case_summary import CaseSummary
from tests.cast import RECTOR, TEACHER, TILSYN, SetClock

Reopen = Callable[[], CaseLedger]
"""The `reopen` fixture: the same ledger opened again, as another process would."""


# ---- undringer: how the cases begin (000 Nivå 0 Trinn 1) -------------------------------


def register_undring(
    ledger: CaseLedger,
    clock: SetClock,
    *,
    child_ref: str = "Elev-31",
    birth_date: date | str = "2014-05-01",
    observations: str = (
        "Har vært sliten og ukonsentrert de siste tre ukene; har ofte ikke med matpakke."
    ),
    tracks: tuple[str, ...] = (),
    violence_suspected: bool = False,
    actor: Actor = TEACHER,
) -> UUID:
    """A staff member registers what they noticed an hour ago; returns the new case's id."""
    event = ledger.register_undring(
        actor=actor,
        child_ref=child_ref,
        child_birth_date=birth_date,
        unit=actor.unit,
        service=actor.service,
        noticed_at=clock.now - timedelta(hours=1),
        observations=observations,
        tracks=tracks,
        violence_suspected=violence_suspected,
    )
    return event.case_id


def register_s12_undring(ledger: CaseLedger, clock: SetClock) -> UUID:
    """Kari Lærer sees Elev-17 held out of the game in the morning break: a § 12-sak."""
    return register_undring(
        ledger,
        clock,
        child_ref="Elev-17",
        observations=(
            "Går alene i friminuttene. To elever sa «du får ikke være med» ved fotballbanen, "
            "og Elev-17 gikk inn igjen før ringeklokka."
        ),
        tracks=("skolemiljo",),
    )


def register_violence_undring(ledger: CaseLedger, clock: SetClock) -> UUID:
    """Kari Lærer sees bruises and hears the pupil dread going home: violence suspected."""
    return register_undring(
        ledger,
        clock,
        child_ref="Elev-23",
        observations=(
            "Har blåmerker på begge overarmene og sier at hun ikke vil hjem i dag. "
            "Ble redd da jeg spurte hva som hadde skjedd."
        ),
        violence_suspected=True,
    )


def register_youth_undring(ledger: CaseLedger, clock: SetClock, birth_date: date) -> UUID:
    """A teacher worries about a pupil at ungdomsskolen who is old enough to speak up."""
    return register_undring(
        ledger,
        clock,
        child_ref="Elev-40",
        birth_date=birth_date,
        observations="Høyt fravær siden jul; sier selv at han ikke orker skolen lenger.",
    )


def birth_date_turning(clock: SetClock, age: int, in_days: int = 0) -> date:
    """The birth date of a child who turns `age` `in_days` days after the clock's day in Oslo."""
    today = local_date(clock.now)
    return today.replace(year=today.year - age) + timedelta(days=in_days)


# ---- consent and other services (000 Nivå 1 Trinn 4; 002) ------------------------------


def give_consent(
    ledger: CaseLedger,
    case_id: UUID,
    *services: str,
    given_by: str = "guardians",
    valid_until: date | None = None,
    actor: Actor = TEACHER,
) -> UUID:
    """The guardians (or the youth) consent to share with `services`; returns the consent id."""
    event = ledger.give_consent(
        case_id,
        actor=actor,
        given_by=given_by,
        services=services,
        purpose="Drøfte hvordan barnet kan få det bedre på skolen og hjemme.",
        information="Undringsnotatet og referatet fra samtalen.",
        valid_until=valid_until,
    )
    assert isinstance(event, ConsentGiven)
    return event.consent_id


CONTACTS = {
    "ppt": "Per PPT",
    "helsestasjon": "Helga Helsesykepleier",
    "barnevern": "Bodil Barnevern",
    "bup": "Bjørn BUP",
}
"""Who each service sends to the case."""


def involve(ledger: CaseLedger, case_id: UUID, service: str) -> CaseEvent:
    """The stafettholder brings `service` into the case under the consent that covers it."""
    return ledger.involve_service(
        case_id, actor=TEACHER, service=service, contact=CONTACTS[service]
    )


def bring_in(ledger: CaseLedger, case_id: UUID, *services: str) -> UUID:
    """The guardians consent to `services` and each is involved; returns the consent id."""
    consent_id = give_consent(ledger, case_id, *services)
    for service in services:
        involve(ledger, case_id, service)
    return consent_id


# ---- tiltak (000 § 12-4; 001 Nivå 1) ---------------------------------------------------


def s12_plan(clock: SetClock) -> dict[str, Any]:
    """A § 12-4 plan for Elev-17 with all five elements, dated from the clock's day."""
    today = local_date(clock.now)
    return {
        "problem": "Elev-17 blir holdt utenfor leken i friminuttene.",
        "description": "En voksen følger med ved fotballbanen i alle friminutt og organiserer lek.",
        "goal": "Elev-17 er med i leken og sier selv at friminuttene er trygge.",
        "responsible": "Kari Lærer",
        "responsible_service": "skole",
        "arena": "skolegården",
        "starts_at": (today + timedelta(days=1)).isoformat(),
        "evaluate_by": (today + timedelta(weeks=3)).isoformat(),
    }


def plan_tiltak(ledger: CaseLedger, case_id: UUID, clock: SetClock, **changes: Any) -> UUID:
    """Kari Lærer plans the friminutt tiltak (with `changes`); returns the tiltak id."""
    event = ledger.plan_tiltak(case_id, actor=TEACHER, **{**s12_plan(clock), **changes})
    assert isinstance(event, TiltakPlanned)
    return event.tiltak_id


# ---- decisions and levels (001 Nivå 0 steg 4, Nivå 1 steg 5) ---------------------------


def decide_level(
    ledger: CaseLedger, case_id: UUID, to_level: int, *, outcome: str = "level_up"
) -> CaseEvent:
    """The rektor decides the case moves to `to_level`, with the child's view weighed."""
    return ledger.record_decision(
        case_id,
        actor=RECTOR,
        outcome=outcome,
        to_level=to_level,
        decided_by=RECTOR.person,
        child_view_weighed="Eleven ønsker hjelp, men vil ikke at hele klassen skal vite det.",
        reason="Skolen trenger hjelp fra andre tjenester for å komme videre.",
    )


def change_level(ledger: CaseLedger, case_id: UUID, from_level: int, to_level: int) -> CaseEvent:
    """The case moves from one level to another, following the decision."""
    return ledger.change_level(
        case_id,
        actor=RECTOR,
        from_level=from_level,
        to_level=to_level,
        reason="Som besluttet.",
    )


# ---- rulebooks ---------------------------------------------------------------------------


def rulebook_file(tmp_path: Path, **values: int) -> Path:
    """The default rulebook copied into `tmp_path` with some cited values changed.

    `rulebook_file(tmp_path, self_consent_age=15)` gives a municipality that lets a youth
    consent alone from 15.
    """
    text = (
        resources.files("ledger.policies")
        .joinpath("rulebooks/default.toml")
        .read_text(encoding="utf-8")
    )
    text, named = re.subn(r'(?m)^name = "default"$', 'name = "test-municipality"', text)
    if named != 1:
        raise ValueError("the default rulebook no longer names itself as expected")
    for key, value in values.items():
        text, changed = re.subn(rf"(?m)^(\[{key}\]\nvalue = )\d+$", rf"\g<1>{value}", text)
        if changed != 1:
            raise ValueError(f"the default rulebook has no [{key}] value to change")
    path = tmp_path / "test-municipality.toml"
    path.write_text(text, encoding="utf-8")
    return path


def ledger_with_rulebook(
    database_url: str, tmp_path: Path, clock: SetClock, **values: int
) -> CaseLedger:
    """A new ledger at `database_url` whose rulebook is the default with `values` changed."""
    path = rulebook_file(tmp_path, **values)
    return CaseLedger.create(database_url, rulebook=str(path), actor=RECTOR, clock=clock, reader=TILSYN)


# ---- reading back, as another process would ----------------------------------------------
# Each opens the ledger afresh and closes it at once, so a test holds no idle connections.


def read_history(reopen: Reopen, case_id: UUID) -> list[CaseEvent]:
    """The case's stored history, read by a freshly opened ledger."""
    with reopen() as again:
        return again.history(case_id)


def read_summary(reopen: Reopen, case_id: UUID) -> CaseSummary:
    """The case's summary, read by a freshly opened ledger."""
    with reopen() as again:
        return again.summary(case_id)


def read_cases(reopen: Reopen) -> list[CaseSummary]:
    """Every case the ledger holds, read by a freshly opened ledger."""
    with reopen() as again:
        return again.list_cases()
