"""A deterministic synthetic municipality: units, staff and BTI cases, as `bti export` writes them.

`write_jsonl(path, Scenario(cases=100_000))` writes one event per line in the public JSON
shape (every field in model order, `event_id`, `sequence` and `recorded_at` set, the
`RulebookAdopted` line first), in recorded order across cases, so the file imports with
`import_into` and exports again byte for byte. The same seed and `now` always give the same
file. Lines are built as plain dicts and written with orjson, without the pydantic models,
so a million events take seconds; `tests/test_benchmarks.py` checks a sample against the
models and imports a small file whole, which runs every rule.

Each case tells a story the seeds describe (DOMAIN.md, "What happens in a case"): the
undring, shared with the leader, the § 12 / § 42 investigation, the samtale invited and held,
a decision on nivå 0; tiltak planned, started, evaluated, completed or cancelled; consent,
refusals and withdrawals, services involved and released; levels up and down with their
decisions; ansvarsgruppe meetings, the child conversation and the stafett handed over;
suspected violence reported to barnevern with the guardians kept out; bright spots,
corrections, deviations; closing, and now and then reopening. The story keeps the rules as
it goes (consent before another service acts, the level rules, the five elements of a
§ 12-4 plan, …). Open cases are those still under way at `now`: their stories are cut there.
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
from pydantic_core import PydanticUndefined

from ledger.events import ACTION_OF, EVENT_TYPES, LEDGER_SET_FIELDS, RulebookAdopted, event_to_json
from ledger.events.ledger import LEDGER_ID
from ledger.policies.rulebook import load_rulebook

DAY = 86_400
BASE_FIELDS = ("type", "schema_version", "event_id", "sequence", "actor", "occurred_at",
               "recorded_at", "case_id")
_REQUIRED = object()


def _templates() -> dict[str, tuple[tuple[str, Any], ...]]:
    """Each case event type's own fields in model order, with their JSON defaults."""
    found: dict[str, tuple[tuple[str, Any], ...]] = {}
    for name, cls in EVENT_TYPES.items():
        if "case_id" not in cls.model_fields:
            continue
        own = []
        for field_name, info in cls.model_fields.items():
            if field_name in BASE_FIELDS or field_name == "national_id":
                continue  # national_id: left out of the public shape when not given
            default = info.default
            if default is PydanticUndefined:
                default = _REQUIRED
            elif isinstance(default, tuple):
                default = list(default)
            own.append((field_name, default))
        found[name] = tuple(own)
    return found


TEMPLATES = _templates()


def iso(ts: int) -> str:
    """An instant as pydantic writes an aware UTC datetime: 2026-03-02T08:00:00Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def iso_date(ts: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ts))


def today_midnight_utc() -> int:
    """The start of the current UTC day: the default `now` of a generated municipality."""
    now = int(time.time())
    return now - now % DAY


# ---- the words people write ------------------------------------------------------------

FIRST = ("Kari", "Ola", "Ingrid", "Jon", "Marte", "Siv", "Odd", "Aisha", "Anne", "Petter",
         "Kristin", "Frida", "Tor", "Lars", "Nora", "Emil", "Sofie", "Jonas", "Ida", "Henrik",
         "Hanne", "Magnus", "Silje", "Ahmed", "Maria", "Erik", "Line", "Sindre", "Camilla",
         "Mats", "Tone", "Bjørn", "Hilde", "Kjetil", "Maja", "Yusuf", "Eli", "Per", "Randi",
         "Stian", "Astrid", "Fredrik", "Guro", "Helge", "Linn", "Vegard", "Tuva", "Amir")
LAST = ("Haugen", "Eriksen", "Bakken", "Lien", "Johansen", "Strand", "Rahimi", "Solberg",
        "Moen", "Dahl", "Berg", "Nygård", "Vik", "Hansen", "Larsen", "Andersen", "Pedersen",
        "Nilsen", "Kristiansen", "Jensen", "Karlsen", "Olsen", "Halvorsen", "Jakobsen",
        "Lund", "Aas", "Holm", "Sæther", "Hauge", "Ali", "Bråthen", "Myhre", "Tangen",
        "Brekke", "Ruud", "Fossum", "Engen", "Lunde", "Hagen", "Iversen")
PLACES = ("Fossen", "Hov", "Solsiden", "Vestdal", "Bjørkelia", "Nordby", "Sletta", "Lia",
          "Haugtun", "Rud", "Åsen", "Berg", "Furulund", "Skogly", "Stranda", "Tomter",
          "Vang", "Ekra", "Kjelsrud", "Myra", "Granli", "Heimdal", "Nesset", "Sagbakken",
          "Fjellvang", "Elvebakken", "Torget", "Kirkebygda", "Moa", "Brattås")

OBSERVATIONS = {
    "skole": (
        "Eleven har stått alene i storefri flere dager på rad og har sluttet å rekke opp hånden.",
        "Eleven kommer ofte for sent, virker sliten og har ikke med seg matpakke.",
        "Medelever kaller eleven nedsettende navn i garderoben før gym.",
        "Eleven har hatt 18 % fravær dette halvåret, mest mandager.",
        "Eleven blir fort sint i timene, kaster ting og går ut av klasserommet.",
        "Eleven sier at han ikke har noen å være sammen med etter skolen.",
        "Eleven har gått mye ned i vekt og spiser lite i lunsjen.",
        "Eleven har sluttet på fotball og sier at hun ikke orker noe.",
        "Foresatte har ikke svart på meldinger fra skolen på flere uker.",
        "Eleven har fått kommentarer i klassechatten som gjør henne lei seg.",
    ),
    "barnehage": (
        "Gutten bruker få ord og blir ofte frustrert når de andre barna ikke forstår ham.",
        "Jenta har vært stille og trett i to uker og vil ikke spise lunsj.",
        "Barnet slår og biter i leken flere ganger om dagen.",
        "Barnet blir ofte hentet sent og virker urolig ved henting.",
        "Barnet søker lite blikkontakt og leker mest alene.",
        "Barnet har ofte skitne klær og virker sulten om morgenen.",
        "Barnet gråter mye ved levering og trøster seg ikke på lang tid.",
        "Barnet har blitt holdt utenfor av de andre i gruppa over tid.",
    ),
    "helsestasjon": (
        "Mor virker nedstemt på konsultasjonene og sier hun sover lite.",
        "Barnet følger ikke vektkurven og har gått ned siden forrige kontroll.",
        "Eleven har vært hos helsesykepleier mange ganger for vondt i magen.",
        "Eleven forteller om vansker med å sove og mye grubling om kvelden.",
        "Foresatte har uteblitt fra to avtalte kontroller.",
        "Barnet har forsinket motorisk utvikling sammenlignet med jevnaldrende.",
    ),
}
VIOLENCE_OBSERVATIONS = (
    "Eleven har blåmerker på begge overarmene og sier at pappa blir så sint.",
    "Barnet forteller at det blir slått hjemme når det søler.",
    "Barnet har et merke på halsen og vil ikke si hvordan det har skjedd.",
)
SHARE_HOW = ("Muntlig på kontoret", "Muntlig ved dagens slutt", "På telefon",
             "Muntlig på teammøtet", "Skriftlig i fagsystemet, bekreftet muntlig")
INVESTIGATIONS = (
    ("Snakket med kontaktlærer, faglærere og inspisienter; gikk gjennom inspeksjonsloggen.",
     "Flere voksne har sett at barnet holdes utenfor. Ingen fysiske krenkelser er observert."),
    ("Observerte leken i tre dager og snakket med de ansatte på avdelingen.",
     "Barnet er mye alene i frileken og blir avvist av de andre barna."),
    ("Samtale med barnet og to medelever, og gjennomgang av hendelser i klassechatten.",
     "Det har skjedd gjentatte krenkende kommentarer de siste ukene."),
)
SAMTALE_SUMMARIES = (
    "Foresatte kjenner seg igjen i det skolen har sett og ønsker tett samarbeid.",
    "Foresatte er bekymret og vil ha hjelp. Vi ble enige om å prøve tiltak i egen tjeneste.",
    "Familien har hatt en tøff periode med flytting og samlivsbrudd. Vi følger med videre.",
    "Foresatte ser det samme hjemme og ønsker at helsestasjonen og PPT ser på saken.",
    "Vi gikk gjennom observasjonene sammen og avtalte ny samtale om tre uker.",
)
CHILD_VIEWS = (
    "Barnet sier at det gruer seg til friminuttene og ønsker en voksen i nærheten.",
    "Eleven vil ikke bytte klasse, men vil ha hjelp til å få venner.",
    "Barnet forteller at det savner å være alene med mamma.",
    "Eleven sier at samtalene hjelper litt, men at mandagene fortsatt er vanskelige.",
    "Barnet viser glede i lek med ett annet barn og i sangsamlinger.",
)
TILTAK = (
    ("En voksen er til stede i garderoben før og etter hver gymtime.",
     "Barnet kan skifte uten å bli kalt navn eller holdt utenfor.",
     "Barnet blir kalt nedsettende navn i garderoben.", "Garderoben"),
    ("Faste lekegrupper i storefri, fulgt opp av inspisient.",
     "Barnet har noen å være sammen med i hvert storefri.",
     "Barnet står alene og holdes utenfor i friminuttene.", "Skolegården"),
    ("Språkgruppe med tre barn to ganger i uka, med bilder og tegn til tale.",
     "Barnet bruker flere ord og havner i færre konflikter.",
     "Barnet blir frustrert når det ikke blir forstått.", "Barnehagegruppa"),
    ("Faste samtaler med helsesykepleier hver uke.",
     "Barnet sover bedre og har en voksen å snakke med.",
     "Barnet sover dårlig og grubler mye.", "Helsesykepleiers kontor"),
    ("Tilpasset timeplan med senere oppmøte på mandager.",
     "Barnet er på skolen alle dager.", "Høyt fravær på mandager.", "Skolen"),
    ("Frokost på skolen og fast voksen ved ankomst.",
     "Barnet starter dagen mett og trygt.", "Barnet kommer sultent og urolig.", "Skolen"),
    ("Veiledning til foresatte i foreldregruppe, åtte kvelder.",
     "Foresatte opplever mestring i hverdagen hjemme.",
     "Konflikter hjemme rundt leggetid og måltider.", "Hjemmet"),
)
EVALUATION_CHILD_VIEWS = (
    "Barnet sier at det er blitt tryggere, men at noen dager fortsatt er vanskelige.",
    "Eleven sier tiltaket hjelper og vil fortsette.",
    "Barnet vil helst at den voksne er med hver dag.",
    "Eleven synes det er flaut at de andre ser tiltaket.",
)
CHILD_VIEW_MISSING = ("Barnet er for lite til å gi uttrykk for sin mening i ord.",
                      "Eleven ønsket ikke å snakke om tiltaket nå.")
GUARDIANS_VIEWS = ("Foresatte merker bedring hjemme.", "Foresatte er fortsatt bekymret.",
                   "Foresatte ønsker at tiltaket fortsetter.")
DECISION_REASONS = {
    "close": "Det er ikke lenger grunn til bekymring.",
    "continue": "Tiltakene virker, men målet er ikke nådd. Ny evaluering om noen uker.",
    "change_tiltak": "Tiltaket hadde ikke effekt; vi prøver et annet.",
    "level_up": "Saken trenger hjelp fra flere tjenester.",
    "level_down": "Situasjonen er bedre; saken følges opp med færre tjenester.",
    "new_round": "Ny runde med tiltak etter evalueringen.",
}
CHILD_VIEW_WEIGHED = (
    "Barnets ønske om en fast voksen ligger til grunn for tiltakene.",
    "Eleven vil helst møte hjelperne på skolen; det er tatt hensyn til.",
    "Barnet sier selv at det har det fint nå.",
    "Barnets mening er hentet inn i samtalen og vektlagt.",
)
MEETING_SUMMARIES = (
    "Tjenestene gikk gjennom kartleggingen og ble enige om ansvar for hvert tiltak.",
    "PPT har observert og foreslår tiltak i gruppa. Ny gjennomgang om fire uker.",
    "Ansvarsgruppen er satt med koordinator. Skolen lager en tilpasset plan.",
)
BRIGHT_SPOTS = ("Barnet lo sammen med to andre i storefri.",
                "Barnet var med og bygde hytte og fortalte stolt om det i samlingsstund.",
                "Eleven leverte alle leksene denne uka og var fornøyd.",
                "Barnet sa god morgen til de voksne og smilte ved levering.")
CONSENT_PURPOSES = ("Vurdering av språk og samspill, og råd til foresatte og barnehagen.",
                    "Samarbeid om hjelp til barnet og familien, med felles stafettlogg.",
                    "Kartlegging og oppfølging av barnets helse og trivsel.")
CONSENT_INFORMATION = ("Observasjonene, referatet fra samtalen og kartleggingen.",
                       "Fravær, observasjoner og referater fra samtaler og møter.")
CLOSING_NOTES = (
    "Avslutningsnotat: Undringen gjaldt endringer i barnets atferd. Etter samtale og tiltak "
    "trives barnet igjen. Foresatte er minnet om at de alltid kan ta kontakt.",
    "Avslutningsnotat: Tiltakene har virket og målet er nådd. Saken avsluttes etter "
    "evaluering med foresatte og barnet.",
)
OTHER_SERVICES = ("helsestasjon", "ppt", "familieteam", "bup", "barnevern")
SERVICE_UNIT_NAMES = {
    "skole": "{} skole", "barnehage": "{} barnehage", "helsestasjon": "{} helsestasjon",
    "ppt": "PPT {}", "familieteam": "Familieteamet {}", "bup": "BUP {}",
    "barnevern": "Barneverntjenesten {}",
}
OWN_SERVICE_SHARE = (("skole", 0.5), ("barnehage", 0.35), ("helsestasjon", 0.15))
CASES_PER_UNIT = 250
"""How many cases one school, barnehage or helsestasjon holds over the span: sets the size."""


# ---- the municipality ------------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    """One tjenestested with its staff and its leader (actors as plain dicts)."""

    name: str
    service: str
    staff: tuple[dict[str, str], ...]
    leader: dict[str, str]


class Municipality:
    """Units of every service, sized for `cases` cases; the same for the same number."""

    def __init__(self, cases: int) -> None:
        self._people = 0
        self.units: dict[str, list[Unit]] = {}
        own_units = 0
        for service, share in OWN_SERVICE_SHARE:
            count = max(1, math.ceil(cases * share / CASES_PER_UNIT))
            own_units += count
            self.units[service] = [self._unit(service, i, staff=8) for i in range(count)]
        for service in OTHER_SERVICES:
            if service in self.units:
                continue
            count = max(1, math.ceil(own_units / 20))
            self.units[service] = [self._unit(service, i, staff=4) for i in range(count)]

    def _name(self) -> str:
        i = self._people
        self._people += 1
        name = f"{FIRST[i % len(FIRST)]} {LAST[(i // len(FIRST)) % len(LAST)]}"
        rounds = i // (len(FIRST) * len(LAST))
        return f"{name} {rounds + 1}" if rounds else name

    def _unit(self, service: str, index: int, staff: int) -> Unit:
        place = PLACES[index % len(PLACES)]
        if index >= len(PLACES):
            place = f"{place} {index // len(PLACES) + 1}"
        name = SERVICE_UNIT_NAMES[service].format(place)
        people = tuple(
            {"person": self._name(), "role": "staff", "service": service, "unit": name}
            for _ in range(staff)
        )
        leader = {"person": self._name(), "role": "leader", "service": service, "unit": name}
        return Unit(name, service, people, leader)

    @property
    def unit_count(self) -> int:
        return sum(len(units) for units in self.units.values())


# ---- the scenario ------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """What to generate. The same scenario always gives the same events."""

    cases: int = 1000
    events_per_case: float = 10.0
    seed: int = 7
    now: int = field(default_factory=today_midnight_utc)
    """Epoch seconds: every event is recorded before it; open cases are cut there."""
    open_share: float = 0.8
    """The share of cases still under way at `now`."""
    span_days: int = 5 * 365
    """How far back the oldest (closed) cases begin."""
    open_window_days: int = 240
    """Open cases began within this many days before `now`."""
    first_case: int = 0
    """Index of the first case: a second scenario with another range gives other cases."""

    @property
    def ledger_start(self) -> int:
        return self.now - (self.span_days + 30) * DAY


@dataclass
class GenerationReport:
    """What a generated file holds."""

    path: Path | None
    events: int
    cases: int
    open_cases: int
    bytes: int
    seconds: float
    rounds_rate: float
    types: Counter[str]


class _Stop(Exception):
    """The story reached `now`: the rest has not happened yet."""


@dataclass
class _Consent:
    consent_id: str
    services: list[str]
    given_at: int
    valid_until: int | None  # last covered second
    withdrawn: set[str] = field(default_factory=set)

    def covers(self, service: str, at: int) -> bool:
        return (service in self.services and service not in self.withdrawn
                and self.given_at <= at
                and (self.valid_until is None or at <= self.valid_until))


class CaseStory:
    """One case told from its undring, keeping the rules as it goes."""

    def __init__(self, town: Municipality, scenario: Scenario, index: int, rounds_rate: float):
        rng = random.Random((scenario.seed << 32) ^ (index * 2_654_435_761))
        self.rng = rng
        self.town = town
        self.now = scenario.now
        self.open = rng.random() < scenario.open_share
        if self.open:
            self.start = scenario.now - rng.randrange(DAY, scenario.open_window_days * DAY)
        else:
            oldest = scenario.span_days * DAY
            newest = min(oldest - DAY, 400 * DAY)
            self.start = scenario.now - rng.randrange(newest, oldest)
        self.events: list[tuple[int, dict[str, Any]]] = []
        self.case_id = self.uuid()
        self.t = self.start
        self.rec = 0
        self.seq = 0
        self.rounds_left = int(rng.expovariate(1.0 / rounds_rate)) if rounds_rate > 0 else 0
        service = self.pick_weighted(OWN_SERVICE_SHARE)
        self.service = service
        self.unit = rng.choice(town.units[service])
        self.staff = rng.choice(self.unit.staff)
        self.leader = self.unit.leader
        self.holder = self.staff["person"]
        self.level = 0
        self.tracks: set[str] = set()
        self.violence = False
        self.closed = False
        self.consents: list[_Consent] = []
        self.involved: dict[str, str] = {}  # service → contact person
        self.partners: dict[str, dict[str, str]] = {}  # service → the person who acts for it
        self.tiltak: dict[str, str] = {}  # tiltak_id → status
        self.first_event = ""
        self.share_event = ""
        self.samtale_event = ""
        self.target: int | None = None

    # ---- randomness and time -------------------------------------------------------------

    def uuid(self) -> str:
        return str(UUID(int=self.rng.getrandbits(128), version=4))

    def pick_weighted(self, options: tuple[tuple[str, float], ...]) -> str:
        roll = self.rng.random()
        for value, weight in options:
            roll -= weight
            if roll < 0:
                return value
        return options[-1][0]

    def later(self, min_days: int, max_days: int) -> None:
        """Move on to a working-day moment some days later (07:00–15:00 UTC)."""
        day = self.t // DAY + self.rng.randint(min_days, max_days)
        moment = day * DAY + 7 * 3600 + self.rng.randrange(8 * 3600)
        self.t = moment if moment > self.t else self.t + 60 * self.rng.randint(5, 90)

    def soon(self, min_minutes: int = 5, max_minutes: int = 120) -> None:
        self.t += 60 * self.rng.randint(min_minutes, max_minutes)

    # ---- writing events --------------------------------------------------------------------

    def emit(self, event_type: str, actor: dict[str, str], /, **fields: Any) -> str:
        """Record one event at the story's current time; stop if that is after `now`."""
        rng = self.rng
        recorded = max(self.rec + rng.randint(1, 59), self.t + rng.randint(120, 5400))
        if recorded > self.now or (self.closed and event_type not in ("CaseReopened", "EntryCorrected")):
            raise _Stop
        self.rec = recorded
        self.seq += 1
        event_id = self.uuid()
        event: dict[str, Any] = {
            "type": event_type, "schema_version": 1, "event_id": event_id, "sequence": self.seq,
            "actor": actor, "occurred_at": iso(self.t), "recorded_at": iso(recorded),
            "case_id": self.case_id,
        }
        for name, default in TEMPLATES[event_type]:
            value = fields.get(name, default)
            if value is _REQUIRED:
                raise KeyError(f"{event_type} needs {name}")
            event[name] = value
        self.events.append((recorded, event))
        return event_id

    # ---- who may act ---------------------------------------------------------------------

    def consent_for(self, service: str, at: int) -> _Consent | None:
        for consent in self.consents:
            if consent.covers(service, at):
                return consent
        return None

    def in_force(self, service: str, margin_days: int = 3) -> bool:
        """A consent covers `service` now and for the next few days (recording comes later)."""
        consent = self.consent_for(service, self.t)
        return consent is not None and consent.covers(service, self.t + margin_days * DAY)

    def partner(self, service: str) -> dict[str, str]:
        """The person of another service who acts on this case for it."""
        found = self.partners.get(service)
        if found is None:
            unit = self.rng.choice(self.town.units[service])
            found = self.rng.choice(unit.staff)
            self.partners[service] = found
        return found

    def active_partners(self) -> list[str]:
        return [s for s in self.involved if self.in_force(s)]

    def text(self, options: tuple[str, ...]) -> str:
        return self.rng.choice(options)

    # ---- the story -------------------------------------------------------------------------

    def tell(self) -> CaseStory:
        try:
            self.level0()
            self.rounds()
        except _Stop:
            pass
        return self

    def level0(self) -> None:
        rng = self.rng
        service = self.service
        if service == "skole" and rng.random() < 0.3:
            self.tracks.add("skolemiljo")
        if service == "barnehage" and rng.random() < 0.2:
            self.tracks.add("barnehagemiljo")
        self.violence = rng.random() < 0.03
        age_years = {"skole": (6, 15), "barnehage": (1, 5), "helsestasjon": (0, 15)}[service]
        birth = self.t - rng.randint(*age_years) * 365 * DAY - rng.randrange(365 * DAY)
        noticed = self.t - 60 * rng.randint(10, 240)
        observations = self.text(VIOLENCE_OBSERVATIONS if self.violence else OBSERVATIONS[service])
        self.first_event = self.emit(
            "UndringRegistered", self.staff, child_ref=f"Barn-{self.case_id[:8]}",
            child_birth_date=iso_date(birth), unit=self.unit.name, service=service,
            noticed_at=iso(noticed), observations=observations, tracks=sorted(self.tracks),
            violence_suspected=self.violence,
        )
        self.soon(20, 300)
        self.share_event = self.emit("SharedWithLeader", self.staff,
                                     leader=self.leader["person"], how=self.text(SHARE_HOW))
        if not self.violence and rng.random() < 0.01:
            self.later(1, 10)
            self.violence = True
            self.emit("TrackFlagged", self.staff, flag="violence_suspected",
                      reason="Barnet fortalte om vold hjemme i en samtale med kontaktlærer.")
        if self.violence:
            self.violence_path()
        if "skolemiljo" in self.tracks or "barnehagemiljo" in self.tracks:
            self.later(0, 3)
            looked_into, findings = rng.choice(INVESTIGATIONS)
            self.emit("InvestigationRecorded", self.leader, looked_into=looked_into,
                      findings=findings)
            if "skolemiljo" in self.tracks and rng.random() < 0.1:
                self.soon()
                self.emit("SchoolOwnerNotified", self.leader, notified="Oppvekstsjefen",
                          summary="Alvorlig § 12-sak: gjentatt utestenging og krenkelser.")
        elif service == "skole" and rng.random() < 0.05:
            self.later(1, 10)
            self.tracks.add("skolemiljo")
            self.emit("TrackFlagged", self.staff, flag="skolemiljo",
                      reason="Eleven fortalte om krenkelser i friminuttene.")
        if not self.violence:
            parties = ["guardians"] if service == "barnehage" else ["guardians", "child"]
            if rng.random() < 0.85:
                self.later(0, 4)
                self.emit("SamtaleInvited", self.staff, with_whom=parties,
                          planned_at=iso(self.t + rng.randint(3, 8) * DAY))
            self.later(2, 12)
            self.samtale_event = self.emit(
                "SamtaleHeld", self.staff, participants=["guardians", "child"],
                child_view=self.text(CHILD_VIEWS) if rng.random() < 0.85 else None,
                summary=self.text(SAMTALE_SUMMARIES),
            )
        if rng.random() < 0.15:
            self.later(0, 5)
            self.emit("BrightSpotLogged", self.staff, observation=self.text(BRIGHT_SPOTS))
        if rng.random() < 0.04:
            self.correct()
        if rng.random() < 0.03:
            self.deviation()
        self.later(1, 6)

    def violence_path(self) -> None:
        rng = self.rng
        self.soon(10, 120)
        self.emit("ReportedToBarnevern", self.leader, to=rng.choice(("barnevern", "both")),
                  reference=f"Melding {rng.randint(1000, 9999)}")
        if rng.random() < 0.4:
            self.later(1, 5)
            self.emit("SamtaleHeld", self.staff, participants=["child"],
                      child_view=self.text(CHILD_VIEWS),
                      summary="Samtale med barnet alene; foresatte er ikke involvert.")
        if rng.random() < 0.6:
            self.later(7, 28)
            self.violence = False
            self.emit("FlagCleared", self.leader, flag="violence_suspected",
                      reason="Barnevernet har konkludert og henlagt undersøkelsen.")

    def rounds(self) -> None:
        """Decisions and tiltak rounds until the case closes (or, if open, until `now`)."""
        outcome = self.first_decision()
        while True:
            if outcome == "close":
                self.close()
                return
            if outcome in ("level_up", "level_down"):
                self.change_level()
            if self.rounds_left <= 0:
                if self.open:
                    return  # an open case left idle: its stalled-case deadline runs
                self.decide("close")
                self.close()
                return
            self.tiltak_round()
            self.rounds_left -= 1
            outcome = self.next_decision()

    def first_decision(self) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.5 and not self.open and self.rounds_left == 0:
            return self.decide("close")
        if roll < 0.85 or self.violence:
            return self.decide("level_up", 1)
        return self.decide("level_up", 2)

    def next_decision(self) -> str:
        rng = self.rng
        self.later(0, 4)
        roll = rng.random()
        if self.rounds_left <= 0 and not self.open:
            return self.decide("close")
        if self.level == 1 and roll < 0.25 and not self.violence:
            return self.decide("level_up", 2)
        if self.level == 2 and roll < 0.2:
            return self.decide("level_up", 3)
        if self.level >= 2 and 0.2 <= roll < 0.35:
            return self.decide("level_down", self.level - 1)
        return self.decide(rng.choice(("continue", "continue", "change_tiltak", "new_round")))

    def decide(self, outcome: str, to_level: int | None = None) -> str:
        """Record a decision by the leader; returns the outcome to act on."""
        if outcome == "level_up" and to_level is not None and to_level >= 2 and self.violence:
            outcome, to_level = "continue", None  # no consent while guardians are kept out
        self.emit("DecisionRecorded", self.leader, outcome=outcome, to_level=to_level,
                  decided_by=self.leader["person"],
                  child_view_weighed=self.text(CHILD_VIEW_WEIGHED),
                  reason=DECISION_REASONS[outcome])
        self.target = to_level
        return outcome

    def change_level(self) -> None:
        target = self.target
        assert target is not None
        if target > self.level and target >= 2:
            self.involve_services(target)
        elif target < self.level:
            self.release_service()
        self.later(0, 2)
        self.emit("LevelChanged", self.leader, from_level=self.level, to_level=target,
                  reason="Etter beslutningen.")
        before, self.level = self.level, target
        if target == 2 and before < 2:
            self.meeting("tverrfaglig_drofting")
        if target == 3:
            self.ansvarsgruppe()

    def involve_services(self, target: int) -> None:
        """Consent first, then the services the level needs (rule 6; rule 4)."""
        rng = self.rng
        needed = target - 1  # others besides the own service: 1 for nivå 2, 2 for nivå 3
        if not self.involved and rng.random() < 0.25:
            self.later(0, 3)
            self.emit("AnonymousConsultationHeld", self.staff,
                      with_service=rng.choice(("ppt", "barnevern")), guardians_told=False,
                      summary="Drøftet saken anonymt for å få råd om veien videre.")
        if rng.random() < 0.08:
            self.later(0, 3)
            self.emit("ConsentRefused", self.staff, refused_by="guardians",
                      services=["barnevern"], purpose="Samarbeid med barnevernet.")
        active = self.active_partners()
        candidates = [s for s in OTHER_SERVICES if s != self.service and s not in self.involved]
        rng.shuffle(candidates)
        to_involve = candidates[: max(0, needed - len(active))]
        uncovered = [s for s in to_involve if not self.in_force(s, 60)]
        if uncovered:
            self.later(0, 3)
            services = uncovered + [s for s in candidates if s not in uncovered][: rng.randint(0, 1)]
            valid_days = rng.choice((None, 365, 540, 730))
            consent = _Consent(self.uuid(), services, self.t,
                               None if valid_days is None else (self.t // DAY + valid_days + 1) * DAY - 1)
            self.consents.append(consent)
            self.emit("ConsentGiven", self.staff, consent_id=consent.consent_id,
                      given_by="guardians", services=services,
                      purpose=self.text(CONSENT_PURPOSES), information=self.text(CONSENT_INFORMATION),
                      valid_until=None if consent.valid_until is None else iso_date(consent.valid_until))
        for service in to_involve:
            self.later(0, 4)
            covering = self.consent_for(service, self.t)
            assert covering is not None
            contact = self.partner(service)["person"]
            self.emit("ServiceInvolved", self.leader, service=service, contact=contact,
                      consent_id=covering.consent_id)
            self.involved[service] = contact

    def release_service(self) -> None:
        rng = self.rng
        releasable = [s for s in self.involved
                      if self.partners.get(s, {}).get("person") != self.holder]
        if not releasable or rng.random() < 0.4:
            return
        service = rng.choice(releasable)
        self.later(0, 3)
        self.emit("ServiceReleased", self.leader, service=service,
                  reason="Tjenesten har gjort sitt i denne saken.")
        del self.involved[service]
        consent = self.consent_for(service, self.t)
        if consent is not None and rng.random() < 0.4:
            self.soon()
            consent.withdrawn.add(service)
            self.emit("ConsentWithdrawn", self.staff, consent_id=consent.consent_id,
                      withdrawn_by="guardians", services=[service])

    def meeting(self, kind: str) -> None:
        if not self.active_partners():
            return
        self.later(3, 14)
        partners = self.active_partners()
        if not partners:
            return
        chair = self.partner(self.rng.choice(partners))
        names = [self.staff["person"], self.leader["person"],
                 *(self.partner(s)["person"] for s in partners), "foresatte"]
        self.emit("MeetingHeld", chair, kind=kind, participants=names,
                  next_meeting_on=iso_date(self.t + 28 * DAY),
                  summary=self.text(MEETING_SUMMARIES))
        if self.rng.random() < 0.3:
            self.soon()
            self.emit("StafettholderAssigned", self.leader, person=self.staff["person"],
                      service=self.service)
            self.holder = self.staff["person"]

    def ansvarsgruppe(self) -> None:
        rng = self.rng
        self.later(2, 10)
        # The coordinator answers the handover up to a week later: their consent must last.
        partners = [s for s in self.involved if self.in_force(s, 14)]
        if not partners:
            return
        lead_service = "familieteam" if "familieteam" in partners else partners[0]
        coordinator = self.partner(lead_service)
        names = [self.staff["person"], self.leader["person"],
                 *(self.partner(s)["person"] for s in partners), "foresatte", "barnet"]
        self.emit("MeetingHeld", self.leader, kind="ansvarsgruppe", participants=names,
                  coordinator=coordinator["person"], plans_tiltak=True,
                  next_meeting_on=iso_date(self.t + 21 * DAY),
                  summary=self.text(MEETING_SUMMARIES))
        self.later(1, 6)
        self.emit("ChildConversationHeld", self.staff, trusted_adult=self.staff["person"],
                  summary="Barnet fikk vite hva ansvarsgruppen har bestemt og hvem som gjør hva.")
        if coordinator["person"] != self.holder:
            self.soon()
            self.emit("StafettHandoverProposed", self.leader, to_person=coordinator["person"],
                      to_service=lead_service)
            self.later(1, 6)
            if rng.random() < 0.85:
                self.emit("StafettHandoverAccepted", coordinator)
                self.holder = coordinator["person"]
            else:
                self.emit("StafettHandoverDeclined", coordinator,
                          reason="Har ikke kapasitet nå; foreslår en kollega.")

    def tiltak_round(self) -> None:
        rng = self.rng
        self.later(0, 5)
        partners = self.active_partners()
        planned: list[str] = []
        for _ in range(1 if rng.random() < 0.7 else 2):
            planner = self.staff
            if partners and rng.random() < 0.3:
                planner = self.partner(rng.choice(partners))
            description, goal, problem, arena = rng.choice(TILTAK)
            starts = self.t + rng.randint(1, 7) * DAY
            tiltak_id = self.uuid()
            self.emit(
                "TiltakPlanned", planner, tiltak_id=tiltak_id, description=description,
                goal=goal,
                problem=problem if "skolemiljo" in self.tracks or rng.random() < 0.5 else None,
                responsible=planner["person"], responsible_service=planner["service"],
                arena=arena, starts_at=iso_date(starts),
                evaluate_by=iso_date(starts + rng.randint(21, 56) * DAY),
            )
            self.tiltak[tiltak_id] = "planned"
            planned.append(tiltak_id)
            self.soon()
        self.later(1, 7)
        for tiltak_id in planned:
            self.emit("TiltakStarted", self.staff, tiltak_id=tiltak_id)
            self.tiltak[tiltak_id] = "started"
            self.soon()
        if rng.random() < 0.25:
            self.later(3, 20)
            self.emit("BrightSpotLogged", self.staff, observation=self.text(BRIGHT_SPOTS))
        if self.level >= 2 and rng.random() < 0.3:
            self.meeting(rng.choice(("ressursteam", "samarbeidsgruppe", "stafettmote")))
        self.later(14, 45)
        with_view = rng.random() < 0.8
        self.emit(
            "EvaluationRecorded", self.staff, tiltak_ids=planned,
            outcome=rng.choice(("goal_reached", "effect_not_there_yet", "no_effect")),
            child_view=self.text(EVALUATION_CHILD_VIEWS) if with_view else None,
            child_view_missing_reason=None if with_view else self.text(CHILD_VIEW_MISSING),
            guardians_view=None if self.violence else self.text(GUARDIANS_VIEWS),
        )
        for tiltak_id in planned:
            roll = rng.random()
            if roll < 0.55:
                self.soon()
                self.emit("TiltakCompleted", self.staff, tiltak_id=tiltak_id,
                          note="Gjennomført som planlagt." if rng.random() < 0.5 else None)
                self.tiltak[tiltak_id] = "completed"
            elif roll < 0.65:
                self.soon()
                self.emit("TiltakCancelled", self.staff, tiltak_id=tiltak_id,
                          reason="Tiltaket passet ikke for barnet.")
                self.tiltak[tiltak_id] = "cancelled"
        if rng.random() < 0.03:
            self.correct()
        if rng.random() < 0.02:
            self.deviation()

    def correct(self) -> None:
        """An earlier entry corrected, the original kept (rule 10)."""
        self.later(0, 3)
        if self.samtale_event and self.rng.random() < 0.5:
            self.emit("EntryCorrected", self.staff, corrects=self.samtale_event,
                      fields={"summary": "Rettet referat: foresatte ønsker ny samtale om to uker."},
                      why="Referatet manglet avtalen om ny samtale.")
        else:
            self.emit("EntryCorrected", self.staff, corrects=self.first_event,
                      fields={"observations": "Rettet notat: observert over tre uker, ikke to."},
                      why="Skrivefeil i undringsnotatet.")

    def deviation(self) -> None:
        self.later(0, 3)
        self.emit("DeviationRecorded", self.leader, rule="share_with_leader",
                  what_happened="Undringen ble delt med leder først etter en uke.",
                  why="Kontaktlæreren var på kurs og ble syk.", about_event=self.share_event)

    def close(self) -> None:
        rng = self.rng
        self.soon(10, 240)
        self.emit("CaseClosed", rng.choice((self.staff, self.leader)),
                  reason="Ikke lenger grunn til bekymring.", closing_note=self.text(CLOSING_NOTES))
        self.closed = True
        if rng.random() < 0.03:
            self.later(20, 90)
            self.closed = False
            self.emit("CaseReopened", self.leader, reason="Ny uro meldt fra kontaktlærer.")
            self.later(3, 13)
            self.decide("close")
            self.close()


# ---- generating many cases -----------------------------------------------------------------


def tell(town: Municipality, scenario: Scenario, index: int, rounds_rate: float) -> CaseStory:
    """Case number `index` of the scenario, told."""
    return CaseStory(town, scenario, index, rounds_rate).tell()


def calibrate(scenario: Scenario, sample: int = 400) -> float:
    """The tiltak-round rate that gives the scenario's mean events per case (bisection)."""
    town = Municipality(scenario.cases)
    probe = replace(scenario, seed=scenario.seed + 10_007)

    def mean_events(rate: float) -> float:
        return sum(len(tell(town, probe, i, rate).events) for i in range(sample)) / sample

    low, high = 0.0, 16.0
    if mean_events(low) >= scenario.events_per_case:
        return low
    for _ in range(12):
        middle = (low + high) / 2
        if mean_events(middle) < scenario.events_per_case:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def rulebook_line(scenario: Scenario) -> bytes:
    """The first line: the ledger adopts the default rulebook before any case begins."""
    rulebook = load_rulebook("default")
    at = datetime.fromtimestamp(scenario.ledger_start, UTC)
    rng = random.Random(scenario.seed)
    event = RulebookAdopted(
        event_id=UUID(int=rng.getrandbits(128), version=4), sequence=1, ledger_id=LEDGER_ID,
        actor={"person": "Randi Vik", "role": "coordinator", "service": "kommune",
               "unit": "Oppvekst"},
        occurred_at=at, recorded_at=at, rulebook=rulebook.name,
        rulebook_version=rulebook.version, rulebook_digest=rulebook.digest,
        rulebook_document=rulebook.model_dump(mode="json"),
    )
    return event_to_json(event)


def iter_case_events(
    scenario: Scenario, rounds_rate: float | None = None, stats: GenerationReport | None = None
) -> Iterator[dict[str, Any]]:
    """Every case event of the scenario as a dict, in recorded order across cases."""
    for _recorded, _key, event in _merged(scenario, rounds_rate, stats, encode=False):
        yield event


def iter_lines(
    scenario: Scenario, rounds_rate: float | None = None, stats: GenerationReport | None = None
) -> Iterator[bytes]:
    """The file's lines (without newlines): the RulebookAdopted, then every case event."""
    yield rulebook_line(scenario)
    for _recorded, _key, line in _merged(scenario, rounds_rate, stats, encode=True):
        yield line


def _merged(
    scenario: Scenario, rounds_rate: float | None, stats: GenerationReport | None, *, encode: bool
) -> Iterator[tuple[int, int, Any]]:
    """Cases told in order of their start, their events merged by recorded time (a heap).

    Only cases still under way are held, so memory follows the number of concurrent cases.
    """
    rate = calibrate(scenario) if rounds_rate is None else rounds_rate
    if stats is not None:
        stats.rounds_rate = rate
    town = Municipality(scenario.cases)
    indices = range(scenario.first_case, scenario.first_case + scenario.cases)
    starts = sorted((CaseStory(town, scenario, i, rate).start, i) for i in indices)
    pending: list[tuple[int, int, Any]] = []
    key = 0
    dumps = orjson.dumps
    for start, index in starts:
        while pending and pending[0][0] <= start:
            yield heapq.heappop(pending)
        story = tell(town, scenario, index, rate)
        if stats is not None:
            stats.cases += 1
            stats.open_cases += not story.closed
        for recorded, event in story.events:
            key += 1
            if stats is not None:
                stats.events += 1
                stats.types[event["type"]] += 1
            heapq.heappush(pending, (recorded, key, dumps(event) if encode else event))
    while pending:
        yield heapq.heappop(pending)


def write_jsonl(path: Path, scenario: Scenario, rounds_rate: float | None = None) -> GenerationReport:
    """Write the scenario as a JSONL file in the public shape; say what it holds."""
    began = time.perf_counter()
    report = GenerationReport(path, 0, 0, 0, 0, 0.0, 0.0, Counter())
    size = 0
    with open(path, "wb") as out:
        chunk: list[bytes] = []
        for line in iter_lines(scenario, rounds_rate, report):
            chunk.append(line)
            if len(chunk) >= 4096:
                block = b"\n".join(chunk) + b"\n"
                size += len(block)
                out.write(block)
                chunk.clear()
        if chunk:
            block = b"\n".join(chunk) + b"\n"
            size += len(block)
            out.write(block)
    report.bytes = size
    report.events += 1  # the RulebookAdopted line
    report.seconds = time.perf_counter() - began
    return report


# ---- the public API's view of the same events ------------------------------------------------


def as_command(event: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """A generated event as a `CaseLedger.record` call: (action, case_id, keyword arguments).

    The ledger sets `sequence` and `recorded_at` itself (its clock at the event's
    `recorded_at` gives the same event); the event id is passed so it is kept.
    """
    cls = EVENT_TYPES[event["type"]]
    kwargs = {k: v for k, v in event.items() if k not in LEDGER_SET_FIELDS}
    kwargs["event_id"] = UUID(event["event_id"])
    kwargs["occurred_at"] = datetime.fromisoformat(event["occurred_at"])
    return ACTION_OF[cls], event["case_id"], kwargs


def recorded_at(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["recorded_at"])


def now_of(scenario: Scenario) -> datetime:
    return datetime.fromtimestamp(scenario.now, UTC)


def parse_now(value: str | None) -> int:
    if not value:
        return today_midnight_utc()
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.generate", description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--events-per-case", type=float, default=10.0)
    parser.add_argument("--open-share", type=float, default=0.8)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--now", help="ISO moment every event is recorded before (default: today 00:00 UTC)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(list(argv) if argv is not None else None)
    scenario = Scenario(cases=args.cases, events_per_case=args.events_per_case, seed=args.seed,
                        now=parse_now(args.now), open_share=args.open_share)
    report = write_jsonl(args.out, scenario)
    print(f"{report.events} events, {report.cases} cases ({report.open_cases} open), "
          f"{report.bytes / 1e6:.1f} MB in {report.seconds:.1f} s → {args.out}", file=sys.stderr)
    for name, count in report.types.most_common():
        print(f"  {name:28} {count:9d}  {count / max(1, report.events):6.1%}", file=sys.stderr)


if __name__ == "__main__":
    main()


__all__ = [
    "GenerationReport", "Municipality", "Scenario", "as_command", "iter_case_events",
    "iter_lines", "now_of", "recorded_at", "write_jsonl",
]
