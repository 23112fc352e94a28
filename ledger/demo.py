"""The demo ledger: five cases told as the handlingsveiledere tell them (seeds 000–004).

1. A § 12-sak at a school: undring on the skolemiljø track, shared with the rektor,
   innkalling within the week, the samtale with the pupil's view, a plan with all five
   elements of § 12-4, tiltak started and evaluated (000).
2. A barnehage case that reaches nivå 2: samtale with the guardians, consent for
   helsestasjon and PPT, both involved, the decision to go up and the LevelChanged (001, 002).
3. Suspected violence: reported to barnevern the same day, the guardians not involved; an
   attempt to invite them is refused, and the refusal is part of what the demo shows (000, 001).
4. A nivå 3 case: four services, an ansvarsgruppe with a koordinator, the stafett proposed
   to the koordinator and accepted (001, 002, 004).
5. A case closed with an avslutningsnotat (001 N0 5, 002).

Every story happens in the weeks before "now" (the clock given), never in the future and
never before its undring. The steps of all stories are recorded in the order they happened,
with a demo clock that follows them a few minutes behind, so `recorded_at` moves forward as
it would have if people had written things down as they went.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse
from uuid import UUID, uuid4

from ledger import messages
from ledger.application import CaseLedger
from ledger.errors import LedgerError
from ledger.events import Actor
from ledger.policies.calendar import OSLO, local_date

Clock = Callable[[], datetime]

DEMO_URL = "sqlite:///bti-demo.sqlite"
"""Where `bti demo` builds its ledger unless told otherwise: a file in the current folder."""

MON, TUE, WED, THU, FRI = range(5)


def sqlite_file(url: str) -> Path | None:
    """The file a sqlite:/// URL names (as the store reads it), or None for other databases."""
    parsed = urlparse(url)
    if parsed.scheme != "sqlite":
        return None
    path = unquote(parsed.path)
    path = path[1:] if path.startswith("/") else path
    return Path(path) if path else None


# ---- the people ----------------------------------------------------------------------

TILSYN = Actor(person="Tone Tilsyn", role="tilsyn", service="statsforvalteren",
               unit="Statsforvalteren i Innlandet")
"""Who the demo shows its cases as: tilsyn reads every case."""
COORDINATOR = Actor(person="Randi Vik", role="coordinator", service="kommune",
                    unit="Oppvekst, Vestdal kommune")

# Fossen skole (cases 1 and 3)
INGRID = Actor(person="Ingrid Haugen", role="staff", service="skole", unit="Fossen skole")
JON = Actor(person="Jon Eriksen", role="staff", service="skole", unit="Fossen skole")
TOR = Actor(person="Tor Bakken", role="leader", service="skole", unit="Fossen skole")

# Solsiden barnehage (cases 2 and 5)
MARTE = Actor(person="Marte Lien", role="staff", service="barnehage", unit="Solsiden barnehage")
SIV = Actor(person="Siv Johansen", role="staff", service="barnehage", unit="Solsiden barnehage")
ODD = Actor(person="Odd Strand", role="leader", service="barnehage", unit="Solsiden barnehage")
AISHA = Actor(person="Aisha Rahimi", role="staff", service="helsestasjon",
              unit="Vestdal helsestasjon")

# Hov ungdomsskole and the services around one pupil (case 4)
ANNE = Actor(person="Anne Solberg", role="staff", service="skole", unit="Hov ungdomsskole")
PETTER = Actor(person="Petter Moen", role="leader", service="skole", unit="Hov ungdomsskole")
KRISTIN = Actor(person="Kristin Dahl", role="staff", service="helsestasjon",
                unit="Skolehelsetjenesten Hov")
FRIDA = Actor(person="Frida Berg", role="staff", service="familieteam",
              unit="Familieteamet Vestdal")


# ---- the shape of a story --------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One action in a story: when it happened, who did it, what they recorded."""

    at: datetime
    case_id: UUID
    action: str
    actor: Actor
    fields: Mapping[str, Any] = field(default_factory=dict)
    refusal_expected: bool = False


@dataclass(frozen=True)
class DemoCase:
    """One case the demo built."""

    key: str
    case_id: UUID

    @property
    def title(self) -> str:
        """What the case shows, in the current language."""
        return messages.text(f"demo.case.{self.key}")


@dataclass(frozen=True)
class DemoReport:
    """What `build_demo` built, and the refusal it provoked on purpose."""

    url: str
    cases: tuple[DemoCase, ...]
    events: int
    refused_case: UUID
    refusal: LedgerError


class Timeline:
    """Days and times in the weeks before now, as people in Oslo name them.

    Week 0 is the last full week before the current one, so every weekday in weeks ≤ 0
    lies before today, whatever day and hour the demo is built.
    """

    def __init__(self, now: datetime) -> None:
        today = local_date(now)
        self.week0 = today - timedelta(days=today.weekday() + 7)
        self.today = today

    def day(self, week: int, weekday: int) -> date:
        return self.week0 + timedelta(weeks=week, days=weekday)

    def at(self, week: int, weekday: int, hhmm: str) -> datetime:
        hour, minute = (int(part) for part in hhmm.split(":"))
        return datetime.combine(self.day(week, weekday), time(hour, minute), tzinfo=OSLO)

    def from_today(self, days: int) -> date:
        return self.today + timedelta(days=days)


class DemoClock:
    """The ledger's clock during the demo: a few minutes after each step, never past now."""

    def __init__(self, real: Clock, start: datetime) -> None:
        self.real = real
        self.now = min(start, real())

    def __call__(self) -> datetime:
        return self.now

    def follow(self, moment: datetime) -> None:
        """Move to `moment` (or a second on, if that is not later), but never past now."""
        self.now = min(max(self.now + timedelta(seconds=1), moment), self.real())


class Story:
    """The steps of one case, written in order."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.case_id = uuid4()
        self.steps: list[Step] = []

    def add(self, at: datetime, action: str, actor: Actor, **fields: Any) -> None:
        self.steps.append(Step(at, self.case_id, action, actor, fields))

    def attempt(self, at: datetime, action: str, actor: Actor, **fields: Any) -> None:
        """A step the ledger must refuse: shown, never stored."""
        self.steps.append(Step(at, self.case_id, action, actor, fields, refusal_expected=True))


# ---- the five stories ------------------------------------------------------------------


def s12_story(w: Timeline) -> Story:
    """1. A § 12-sak at Fossen skole (000: § 12-4, innkalling within a week)."""
    s = Story("s12")
    garderobe, friminutt = uuid4(), uuid4()
    s.add(w.at(-5, MON, "10:30"), "register-undring", INGRID,
          child_ref="Elev 6B-14", child_birth_date=date(2014, 9, 3), unit="Fossen skole",
          service="skole", noticed_at=w.at(-5, MON, "09:50"), tracks=["skolemiljo"],
          observations=(
              "Eleven har stått alene i storefri flere dager på rad. I dag hørte jeg to "
              "medelever kalle henne «stinkdyret» i garderoben før gym. Hun har sluttet å "
              "rekke opp hånden i timene."))
    s.add(w.at(-5, MON, "13:15"), "share-with-leader", INGRID,
          leader="Tor Bakken", how="Muntlig på rektors kontor, bekreftet på e-post")
    s.add(w.at(-5, TUE, "14:00"), "record-investigation", TOR,
          looked_into=("Snakket med kontaktlærer, gymlærer og inspisientene; gikk gjennom "
                       "inspeksjonsloggen for de siste tre ukene."),
          findings=("Tre lærere har sett at eleven holdes utenfor i friminuttene. Gymlæreren "
                    "har hørt kallenavnet to ganger. Ingen fysiske krenkelser er observert."))
    s.add(w.at(-5, WED, "08:15"), "invite-to-samtale", INGRID,
          with_whom=["guardians", "child"], planned_at=w.at(-4, MON, "15:00"))
    s.add(w.at(-4, MON, "15:00"), "hold-samtale", INGRID,
          participants=["guardians", "child"],
          child_view=("Eleven sier hun gruer seg til gymtimene og helst vil ha en voksen i "
                      "garderoben. Hun vil ikke bytte klasse."),
          summary=("Foresatte kjenner seg igjen: eleven har hatt vondt i magen om morgenen. "
                   "Skolen la fram hva som er undersøkt. Vi ble enige om en aktivitetsplan "
                   "etter opplæringslova § 12-4."))
    s.add(w.at(-4, TUE, "09:00"), "record-decision", TOR,
          outcome="level_up", to_level=1, decided_by="Tor Bakken",
          child_view_weighed=("Elevens ønske om en voksen i garderoben og om å bli i klassen "
                              "ligger til grunn for tiltakene."),
          reason="Skolen setter inn tiltak i egen tjeneste.")
    s.add(w.at(-4, TUE, "09:05"), "change-level", TOR,
          from_level=0, to_level=1, reason="Tiltak i egen tjeneste, etter beslutningen i dag.")
    for tiltak_id, description, goal, problem, arena in (
        (garderobe,
         "En voksen er til stede i garderoben før og etter hver gymtime.",
         "Eleven kan skifte uten å bli kalt navn eller holdt utenfor.",
         "Eleven blir kalt nedsettende kallenavn i garderoben.",
         "Garderoben og gymsalen"),
        (friminutt,
         "Faste lekegrupper i storefri, satt opp av kontaktlærer og fulgt opp av inspisient.",
         "Eleven har noen å være sammen med i hvert storefri.",
         "Eleven står alene og holdes utenfor i friminuttene.",
         "Skolegården"),
    ):
        s.add(w.at(-4, TUE, "10:00"), "plan-tiltak", INGRID,
              tiltak_id=tiltak_id, description=description, goal=goal, problem=problem,
              responsible="Ingrid Haugen", responsible_service="skole", arena=arena,
              starts_at=w.day(-4, WED), evaluate_by=w.day(-1, FRI))
    s.add(w.at(-4, WED, "08:00"), "start-tiltak", INGRID, tiltak_id=garderobe)
    s.add(w.at(-4, WED, "11:30"), "start-tiltak", INGRID, tiltak_id=friminutt)
    s.add(w.at(-3, THU, "14:00"), "log-bright-spot", INGRID,
          observation=("Eleven lo sammen med to medelever i storefri og spurte om hun "
                       "kunne være med på fotball."))
    s.add(w.at(-1, FRI, "13:00"), "record-evaluation", INGRID,
          tiltak_ids=[garderobe, friminutt], outcome="effect_not_there_yet",
          child_view=("Eleven sier garderoben er blitt trygg, men at noen friminutt fortsatt "
                      "er vanskelige."),
          guardians_view="Foresatte merker at eleven gruer seg mindre om morgenen.")
    s.add(w.at(-1, FRI, "13:30"), "record-decision", TOR,
          outcome="continue", decided_by="Tor Bakken",
          child_view_weighed="Eleven vil fortsette med lekegruppene.",
          reason="Tiltakene virker, men målet er ikke nådd. Ny evaluering om tre uker.")
    return s


def level2_story(w: Timeline) -> Story:
    """2. Solsiden barnehage: consent, helsestasjon and PPT involved, nivå 2 (001, 002)."""
    s = Story("level2")
    consent, sprakgruppe = uuid4(), uuid4()
    s.add(w.at(-6, TUE, "11:00"), "register-undring", MARTE,
          child_ref="Barn Blåklokka-07", child_birth_date=date(2022, 6, 18),
          unit="Solsiden barnehage", service="barnehage", noticed_at=w.at(-6, TUE, "10:15"),
          observations=(
              "Gutten bruker få ord og blir ofte frustrert når de andre barna ikke forstår "
              "ham; han slår og gråter i leken flere ganger om dagen. Han søker lite "
              "blikkontakt i samlingsstund."))
    s.add(w.at(-6, TUE, "15:30"), "share-with-leader", MARTE,
          leader="Odd Strand", how="Muntlig ved dagens slutt")
    s.add(w.at(-6, THU, "08:30"), "invite-to-samtale", MARTE,
          with_whom=["guardians"], planned_at=w.at(-5, TUE, "15:30"))
    s.add(w.at(-5, TUE, "15:30"), "hold-samtale", MARTE,
          participants=["guardians"],
          child_view=("Gutten viser glede i lek med ett annet barn og i sangsamlinger; han "
                      "peker og tar de voksne i hånden når han vil vise noe."),
          summary=("Foresatte har også sett at språket kommer sent. De ønsker at "
                   "helsestasjonen og PPT ser på språk og samspill, og samtykker til det."))
    s.add(w.at(-5, TUE, "16:00"), "give-consent", MARTE,
          consent_id=consent, given_by="guardians", services=["helsestasjon", "ppt"],
          purpose="Vurdering av språk og samspill, og råd til barnehagen og foresatte.",
          information=("Observasjonene fra barnehagen, referatet fra foreldresamtalen og "
                       "helsestasjonens kartlegging."),
          valid_until=w.from_today(365))
    s.add(w.at(-5, WED, "09:00"), "record-decision", ODD,
          outcome="level_up", to_level=2, decided_by="Odd Strand",
          child_view_weighed=("Gutten trives i lek med ett annet barn; tiltakene legges til "
                              "små grupper."),
          reason="Barnehagen trenger råd fra helsestasjonen og PPT. Foresatte har samtykket.")
    s.add(w.at(-4, MON, "10:00"), "involve-service", ODD,
          service="helsestasjon", contact="Aisha Rahimi", consent_id=consent)
    s.add(w.at(-4, MON, "10:05"), "involve-service", ODD,
          service="ppt", contact="Lars Nygård", consent_id=consent)
    s.add(w.at(-4, MON, "10:10"), "change-level", ODD,
          from_level=0, to_level=2, reason="Helsestasjonen og PPT er med, med samtykke.")
    s.add(w.at(-3, WED, "13:00"), "hold-meeting", AISHA,
          kind="tverrfaglig_drofting",
          participants=["Marte Lien", "Odd Strand", "Aisha Rahimi", "Lars Nygård", "foresatte"],
          next_meeting_on=w.from_today(28),
          summary=("Helsestasjonen har kartlagt språket. PPT har observert i barnehagen og "
                   "foreslår en språkgruppe med bilder og tegn til tale."))
    s.add(w.at(-3, WED, "14:00"), "plan-tiltak", MARTE,
          tiltak_id=sprakgruppe,
          description="Språkgruppe med tre barn to ganger i uka, med bilder og tegn til tale.",
          goal="Gutten bruker flere ord og havner i færre konflikter i leken.",
          responsible="Marte Lien", responsible_service="barnehage", arena="Barnehagegruppa",
          starts_at=w.day(-2, MON), evaluate_by=w.from_today(21))
    s.add(w.at(-2, MON, "09:00"), "start-tiltak", MARTE, tiltak_id=sprakgruppe)
    return s


def violence_story(w: Timeline) -> Story:
    """3. Suspected violence: barnevern the same day, guardians not involved (000, 001, 004)."""
    s = Story("violence")
    s.add(w.at(0, TUE, "09:40"), "register-undring", JON,
          child_ref="Elev 3A-05", child_birth_date=date(2018, 2, 11), unit="Fossen skole",
          service="skole", noticed_at=w.at(0, TUE, "08:45"), violence_suspected=True,
          observations=(
              "Eleven har blåmerker på begge overarmene, formet som fingre. Da jeg spurte, "
              "sa eleven «pappa blir så sint når jeg søler» og begynte å gråte."))
    s.add(w.at(0, TUE, "09:55"), "share-with-leader", JON,
          leader="Tor Bakken", how="Straks, muntlig")
    s.add(w.at(0, TUE, "10:30"), "report-to-barnevern", TOR,
          to="barnevern", reference="Telefon kl. 10.25 og melding i barnevernets meldingsportal")
    s.attempt(w.at(0, TUE, "10:45"), "invite-to-samtale", JON,
              with_whom=["guardians"], planned_at=w.at(0, WED, "15:00"))
    s.add(w.at(0, WED, "14:00"), "record-decision", TOR,
          outcome="continue", decided_by="Tor Bakken",
          child_view_weighed=("Eleven har sagt at det er godt at en voksen vet. Barnevernet "
                              "snakker med eleven videre."),
          reason=("Barnevernet undersøker saken. Skolen involverer ikke foresatte og følger "
                  "opp eleven i skolehverdagen i samråd med barnevernet."))
    return s


def level3_story(w: Timeline) -> Story:
    """4. Hov ungdomsskole: four services, ansvarsgruppe with koordinator, stafett (001, 002)."""
    s = Story("level3")
    consent, samtaler, timeplan = uuid4(), uuid4(), uuid4()
    s.add(w.at(-6, MON, "12:00"), "register-undring", ANNE,
          child_ref="Elev 9C-03", child_birth_date=date(2011, 11, 23), unit="Hov ungdomsskole",
          service="skole", noticed_at=w.at(-6, MON, "08:30"),
          observations=(
              "Eleven har 22 % fravær dette halvåret, mest mandager. Hun sover i timene, har "
              "sluttet på håndball og sier hun «ikke orker noe». Medelever sier hun ikke svarer "
              "på meldinger lenger."))
    s.add(w.at(-6, MON, "14:00"), "share-with-leader", ANNE,
          leader="Petter Moen", how="Muntlig på teammøtet")
    s.add(w.at(-6, TUE, "08:30"), "invite-to-samtale", ANNE,
          with_whom=["guardians", "child"], planned_at=w.at(-5, MON, "14:00"))
    s.add(w.at(-5, MON, "14:00"), "hold-samtale", ANNE,
          participants=["guardians", "child"],
          child_view=("Eleven sier hun sover dårlig, er mye lei seg og vil ha hjelp, men ikke "
                      "at klassen skal vite om det."),
          summary=("Mor forteller om samlivsbrudd i høst og at eleven er mye alene. Alle "
                   "ønsker hjelp fra skolehelsetjenesten, BUP og familieteamet."))
    s.add(w.at(-5, MON, "14:30"), "give-consent", ANNE,
          consent_id=consent, given_by="guardians",
          services=["helsestasjon", "bup", "familieteam"],
          purpose="Samarbeid om hjelp til eleven og familien, med felles stafettlogg.",
          information="Fravær, observasjoner fra skolen og referater fra samtaler og møter.",
          valid_until=w.from_today(365))
    s.add(w.at(-5, TUE, "09:00"), "record-decision", PETTER,
          outcome="level_up", to_level=2, decided_by="Petter Moen",
          child_view_weighed=("Elevens ønske om at klassen ikke skal vite om det er ivaretatt: "
                              "samtalene skjer hos helsesykepleier."),
          reason="Skolehelsetjenesten kobles inn.")
    s.add(w.at(-5, TUE, "11:00"), "involve-service", PETTER,
          service="helsestasjon", contact="Kristin Dahl", consent_id=consent)
    s.add(w.at(-5, TUE, "11:05"), "change-level", PETTER,
          from_level=0, to_level=2, reason="Skolehelsetjenesten er med, med samtykke.")
    s.add(w.at(-4, THU, "13:00"), "plan-tiltak", KRISTIN,
          tiltak_id=samtaler, description="Faste samtaler med helsesykepleier hver uke.",
          goal="Eleven sover bedre og har en voksen å snakke med.",
          responsible="Kristin Dahl", responsible_service="helsestasjon",
          arena="Helsesykepleiers kontor på skolen",
          starts_at=w.day(-4, FRI), evaluate_by=w.day(-2, FRI))
    s.add(w.at(-4, FRI, "10:00"), "start-tiltak", KRISTIN, tiltak_id=samtaler)
    s.add(w.at(-2, MON, "14:00"), "record-evaluation", KRISTIN,
          tiltak_ids=[samtaler], outcome="no_effect",
          child_view=("Eleven sier samtalene hjelper litt, men at hun fortsatt ikke klarer å "
                      "komme på skolen på mandager."),
          guardians_view="Mor er bekymret for at fraværet øker.")
    s.add(w.at(-2, MON, "15:00"), "record-decision", PETTER,
          outcome="level_up", to_level=3, decided_by="Petter Moen",
          child_view_weighed="Eleven vil helst møte hjelperne på skolen, ikke på et kontor.",
          reason=("Fraværet øker. BUP og familieteamet trengs, og saken trenger en "
                  "ansvarsgruppe med koordinator."))
    s.add(w.at(-2, TUE, "09:00"), "involve-service", PETTER,
          service="bup", contact="Morten Aas", consent_id=consent)
    s.add(w.at(-2, TUE, "09:05"), "involve-service", PETTER,
          service="familieteam", contact="Frida Berg", consent_id=consent)
    s.add(w.at(-2, WED, "12:30"), "change-level", PETTER,
          from_level=2, to_level=3, reason="Fire tjenester er med rundt eleven.")
    s.add(w.at(-2, WED, "13:00"), "hold-meeting", PETTER,
          kind="ansvarsgruppe", coordinator="Frida Berg", plans_tiltak=True,
          participants=["Anne Solberg", "Petter Moen", "Kristin Dahl", "Morten Aas",
                        "Frida Berg", "foresatte", "eleven"],
          next_meeting_on=w.from_today(21),
          summary=("Ansvarsgruppen er satt, med Frida Berg i familieteamet som koordinator. "
                   "BUP starter utredning; skolen lager en tilpasset timeplan."))
    s.add(w.at(-2, WED, "13:45"), "plan-tiltak", ANNE,
          tiltak_id=timeplan, description="Tilpasset timeplan med senere oppmøte på mandager.",
          goal="Eleven er på skolen alle dager.",
          responsible="Anne Solberg", responsible_service="skole", arena="Skolen",
          starts_at=w.day(-1, MON), evaluate_by=w.from_today(21))
    s.add(w.at(-2, WED, "14:00"), "propose-handover", ANNE,
          to_person="Frida Berg", to_service="familieteam")
    s.add(w.at(-2, FRI, "10:00"), "hold-child-conversation", ANNE,
          trusted_adult="Anne Solberg",
          summary=("Anne forklarte eleven hva ansvarsgruppen har bestemt og hvem som gjør "
                   "hva. Eleven vil helst møte Frida på skolen."))
    s.add(w.at(-1, MON, "09:00"), "accept-handover", FRIDA)
    s.add(w.at(-1, MON, "09:30"), "start-tiltak", ANNE, tiltak_id=timeplan)
    return s


def closed_story(w: Timeline) -> Story:
    """5. Solsiden barnehage: no further concern, closed with an avslutningsnotat (002)."""
    s = Story("closed")
    s.add(w.at(-5, THU, "10:00"), "register-undring", SIV,
          child_ref="Barn Solsikken-12", child_birth_date=date(2020, 4, 2),
          unit="Solsiden barnehage", service="barnehage", noticed_at=w.at(-5, THU, "09:15"),
          observations=(
              "Jenta har vært stille og trett i to uker, sitter mye for seg selv og vil ikke "
              "spise lunsj. Hun har før vært blant de mest aktive i gruppa."))
    s.add(w.at(-5, THU, "15:00"), "share-with-leader", SIV,
          leader="Odd Strand", how="Muntlig")
    s.add(w.at(-5, FRI, "08:00"), "invite-to-samtale", SIV,
          with_whom=["guardians"], planned_at=w.at(-4, TUE, "16:00"))
    s.add(w.at(-4, TUE, "16:00"), "hold-samtale", SIV,
          participants=["guardians", "child"],
          child_view=("Jenta forteller at hun har fått en lillebror som gråter om natta, og at "
                      "hun savner å være alene med mamma."),
          summary=("Familien fikk en baby for fem uker siden og flyttet samtidig. Foresatte "
                   "ser det samme hjemme. Vi følger med ei uke til."))
    s.add(w.at(-3, MON, "11:00"), "log-bright-spot", SIV,
          observation=("Jenta var med og bygde hytte i skogen og fortalte stolt om lillebroren "
                       "i samlingsstund."))
    s.add(w.at(-3, WED, "16:00"), "record-decision", ODD,
          outcome="close", decided_by="Odd Strand",
          child_view_weighed="Jenta sier selv at hun har det fint i barnehagen nå.",
          reason=("Undringen skyldtes en stor endring i familien. Jenta leker og spiser som "
                  "før."))
    s.add(w.at(-3, WED, "16:15"), "close-case", SIV,
          reason="Ikke lenger grunn til bekymring.",
          closing_note=(
              "Avslutningsnotat: Undringen gjaldt at jenta var stille og trett og ikke ville "
              "spise. Samtalen med foresatte viste at familien nettopp hadde fått en baby og "
              "flyttet. Etter en tid med ekstra oppmerksomhet leker og spiser jenta som før. "
              "Foresatte er minnet om at de alltid kan ta kontakt igjen."))
    return s


STORIES: tuple[Callable[[Timeline], Story], ...] = (
    s12_story, level2_story, violence_story, level3_story, closed_story,
)


def build_demo(url: str, clock: Clock) -> DemoReport:
    """Create a new ledger at `url` and record the five stories in the weeks before now."""
    w = Timeline(clock())
    demo_clock = DemoClock(clock, start=w.at(-7, MON, "08:00"))
    stories = [story(w) for story in STORIES]
    # Every story's steps in the order they happened (stable: ties keep story order).
    steps = sorted((step for story in stories for step in story.steps), key=lambda s: s.at)
    refusals: list[tuple[UUID, LedgerError]] = []
    stored = 0
    with CaseLedger.create(url, rulebook="default", actor=COORDINATOR, clock=demo_clock) as ledger:
        for number, step in enumerate(steps):
            # Written down 3–40 minutes after it happened.
            demo_clock.follow(step.at + timedelta(minutes=3 + (number * 7) % 38))
            try:
                ledger.record(
                    step.action, step.case_id, actor=step.actor, occurred_at=step.at,
                    **step.fields,
                )
            except LedgerError as error:
                if not step.refusal_expected:
                    raise
                refusals.append((step.case_id, error))
                continue
            if step.refusal_expected:
                raise RuntimeError(f"the demo expected {step.action} to be refused")
            stored += 1
    refused_case, refusal = refusals[0]
    return DemoReport(
        url=url,
        cases=tuple(DemoCase(story.key, story.case_id) for story in stories),
        events=stored,
        refused_case=refused_case,
        refusal=refusal,
    )
