"""One realistic example of every event type, told as one § 12-sak at Fossen skole.

The examples are shape examples for `docs/events.md` and the tests: one case, sequences
1..36 in the order the story happens, fixed ids (uuid5) and fixed times in Europe/Oslo, so
the output is the same on every run. They read as a plausible history but are not meant
to pass every rule together: each type appears once, so two of them are alternatives to
their neighbour rather than the next step (StafettHandoverDeclined is the other answer to
the proposal that StafettHandoverAccepted answers; TiltakCancelled cancels the
samtalegruppe that the stafettmøte planned, whose TiltakPlanned is not among them).
RulebookAdopted is on the ledger's own stream, recorded by `bti init` before the case.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import cache
from typing import Any, TypeVar, overload
from uuid import NAMESPACE_URL, UUID, uuid5

from ledger.events import (
    EVENT_TYPES,
    Actor,
    AnonymousConsultationHeld,
    BrightSpotLogged,
    CaseClosed,
    CaseErased,
    CaseEvent,
    CaseReopened,
    ChildConversationHeld,
    ConsentGiven,
    ConsentRefused,
    ConsentWithdrawn,
    DecisionRecorded,
    DeviationRecorded,
    EntryCorrected,
    EvaluationRecorded,
    Event,
    FlagCleared,
    InvestigationRecorded,
    LevelChanged,
    MeetingHeld,
    ReminderDelivered,
    ReminderDeliveryFailed,
    ReminderIssued,
    ReportedToBarnevern,
    RulebookAdopted,
    SamtaleHeld,
    SamtaleInvited,
    SchoolOwnerNotified,
    ServiceInvolved,
    ServiceReleased,
    SharedWithLeader,
    StafettHandoverAccepted,
    StafettHandoverDeclined,
    StafettHandoverProposed,
    StafettholderAssigned,
    TiltakCancelled,
    TiltakCompleted,
    TiltakPlanned,
    TiltakStarted,
    TrackFlagged,
    UndringRegistered,
)
from ledger.events.ledger import LEDGER_ID
from ledger.policies.calendar import OSLO, end_of_day
from ledger.policies.rulebook import load_rulebook

E = TypeVar("E", bound=Event)

EXAMPLES_NAMESPACE = uuid5(NAMESPACE_URL, "urn:bti-ledger:examples")
"""Every id in the examples is a uuid5 in this namespace, so they never change."""

CASE_ID = uuid5(EXAMPLES_NAMESPACE, "case")
TILTAK_ID = uuid5(EXAMPLES_NAMESPACE, "tiltak:fast-voksen-ved-banen")
SAMTALEGRUPPE_ID = uuid5(EXAMPLES_NAMESPACE, "tiltak:samtalegruppe")
CONSENT_ID = uuid5(EXAMPLES_NAMESPACE, "consent:helsestasjon-ppt")

KARI = Actor(person="Kari Lærer", role="staff", service="skole", unit="Fossen skole")
"""The kontaktlærer who noticed the undring; stafettholder until March."""
RITA = Actor(person="Rita Rektor", role="leader", service="skole", unit="Fossen skole")
SIGRID = Actor(person="Sigrid Spes", role="staff", service="skole", unit="Fossen skole")
"""The spesialpedagog who takes over the stafett."""
DAEMON = Actor(
    person="BTI-påminnelser", role="system", service="kommune", unit="Søndre Land kommune"
)
COORDINATOR = Actor(
    person="Kristin Koordinator", role="coordinator", service="kommune", unit="Oppvekst"
)

NOTICED_AT = datetime(2026, 1, 12, 10, 20, tzinfo=OSLO)
"""Monday 12 January 2026, storefri: when Kari noticed what she wonders about."""


def event_id_of(event_type: type[Event]) -> UUID:
    """The fixed event_id of the example of `event_type`."""
    return uuid5(EXAMPLES_NAMESPACE, f"event:{event_type.__name__}")


REPORT_DEADLINE_ID = f"report_to_barnevern:{CASE_ID}:{event_id_of(TrackFlagged)}"
"""The deadline the reminder is about, in the form of `ledger.policies.deadlines.deadline_id`
(rule, case, basis event): the report to barnevern that the violence flag made due."""


def oslo(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> datetime:
    """A wall-clock time in Oslo (CET in winter, CEST from 29 March 2026)."""
    return datetime(year, month, day, hour, minute, tzinfo=OSLO)


class _Story:
    """Collects the case's events in order, numbering them 1..n."""

    def __init__(self) -> None:
        self.events: list[CaseEvent] = []

    def add(
        self,
        event_type: type[CaseEvent],
        actor: Actor,
        occurred_at: datetime,
        *,
        recorded_after: timedelta = timedelta(minutes=2),
        event_id: UUID | None = None,
        **fields: Any,
    ) -> None:
        self.events.append(
            event_type.model_validate({
                "event_id": event_id or event_id_of(event_type),
                "case_id": CASE_ID,
                "sequence": len(self.events) + 1,
                "actor": actor,
                "occurred_at": occurred_at,
                "recorded_at": occurred_at + recorded_after,
                **fields,
            })
        )


def _case_story() -> list[CaseEvent]:
    story = _Story()
    add = story.add
    add(
        UndringRegistered, KARI, oslo(1, 12, 14, 5),
        child_ref="7B-elev-04",
        child_birth_date=date(2013, 4, 18),
        unit="Fossen skole",
        service="skole",
        noticed_at=NOTICED_AT,
        observations=(
            "I storefri i dag tok to elever fra 7B lua hans og kastet den mellom seg mens "
            "andre sto og lo. Han sa «det går bra», men satt alene i garderoben etterpå og "
            "gråt. De siste tre ukene har jeg sett ham alene i nesten alle friminutt, og han "
            "har hatt fire fraværsdager siden jul (vondt i magen)."
        ),
        tracks=("skolemiljo",),
        violence_suspected=False,
    )
    add(
        SharedWithLeader, KARI, oslo(1, 12, 15, 30),
        leader="Rita Rektor",
        how="Muntlig, på rektors kontor etter skoletid",
    )
    add(
        SamtaleInvited, KARI, oslo(1, 13, 11, 45),
        with_whom=("guardians", "child"),
        planned_at=oslo(1, 16, 14, 0),
    )
    add(
        InvestigationRecorded, RITA, oslo(1, 15, 16, 0),
        looked_into=(
            "Samtaler med de inspiserende lærerne og med to medelever; gjennomgang av "
            "fraværet siden jul og av meldingene fra foresatte."
        ),
        findings=(
            "Han er holdt utenfor leken og ertet av de samme to elevene i friminuttene "
            "siden november. Inspiserende lærere har sett det flere ganger uten å melde fra. "
            "Eleven har ikke et trygt og godt skolemiljø (§ 12-4)."
        ),
    )
    add(
        SamtaleHeld, KARI, oslo(1, 16, 14, 0),
        recorded_after=timedelta(hours=1, minutes=10),
        participants=("guardians", "child"),
        child_view=(
            "Vil ikke at de andre skal få vite at han har sagt fra. Vil gjerne spille fotball "
            "i storefri hvis en voksen står ved banen."
        ),
        summary=(
            "Foresatte kjenner seg igjen: han har gruet seg til skolen og hatt vondt i magen "
            "om morgenen siden november. Vi ble enige om en skriftlig tiltaksplan etter "
            "§ 12-4, og skolen snakker med de to elevene og deres foresatte. Nytt møte om "
            "fire uker."
        ),
    )
    add(
        DecisionRecorded, RITA, oslo(1, 16, 16, 0),
        outcome="level_up",
        to_level=1,
        decided_by="Rita Rektor",
        child_view_weighed=(
            "Han vil ikke at klassen skal vite at han har sagt fra; tiltakene gjøres derfor "
            "i friminuttene og ikke i klassen."
        ),
        reason=(
            "Uroen er bekreftet i samtalen og i undersøkelsen; skolen setter inn tiltak i "
            "egen tjeneste (nivå 1)."
        ),
    )
    add(
        LevelChanged, RITA, oslo(1, 16, 16, 5),
        from_level=0,
        to_level=1,
        reason="Beslutningen 16.01.2026: tiltak i egen tjeneste.",
    )
    add(StafettholderAssigned, RITA, oslo(1, 19, 8, 30), person="Kari Lærer", service="skole")
    add(
        TiltakPlanned, KARI, oslo(1, 19, 13, 0),
        tiltak_id=TILTAK_ID,
        description=(
            "Fast voksen ved fotballbanen i alle storefri; eleven er med og setter opp lagene."
        ),
        goal="Han er med i leken i friminuttene og sier selv at han har det trygt.",
        problem="Han blir holdt utenfor og ertet i friminuttene av to elever fra 7B.",
        responsible="Kari Lærer",
        responsible_service="skole",
        arena="Skolegården, storefri",
        starts_at=date(2026, 1, 20),
        evaluate_by=date(2026, 2, 13),
    )
    add(
        SchoolOwnerNotified, RITA, oslo(1, 19, 14, 0),
        notified="Kommunalsjef for oppvekst",
        summary=(
            "Alvorlig § 12-sak på 7. trinn: utestenging og erting over tre måneder, som "
            "inspiserende lærere så uten å melde fra. Skolen har laget tiltaksplan og går "
            "gjennom rutinene for inspeksjon."
        ),
    )
    add(TiltakStarted, KARI, oslo(1, 20, 10, 30), tiltak_id=TILTAK_ID)
    add(
        BrightSpotLogged, KARI, oslo(1, 27, 12, 40),
        observation=(
            "Spilte fotball hele storefri og ble valgt på lag av en av de to elevene. Smilte "
            "da han kom inn fra friminuttet."
        ),
    )
    add(
        AnonymousConsultationHeld, KARI, oslo(1, 28, 14, 30),
        with_service="helsestasjon",
        guardians_told=True,
        summary=(
            "Anonym drøfting i ressursteamet om magesmerter og fravær hos en elev på 7. trinn. "
            "Helsesykepleier råder til å tilby samtaler på helsestasjonen hvis foresatte vil. "
            "Foresatte visste om drøftingen på forhånd."
        ),
    )
    add(
        ConsentRefused, KARI, oslo(1, 30, 9, 15),
        refused_by="guardians",
        services=("bup",),
        purpose="Henvisning til BUP for vurdering av angst.",
    )
    add(
        ConsentGiven, KARI, oslo(1, 30, 9, 20),
        consent_id=CONSENT_ID,
        given_by="guardians",
        services=("helsestasjon", "ppt"),
        purpose=(
            "Samarbeid med helsestasjonen om magesmerter og fravær, og med PPT om "
            "tilrettelegging i klassen hvis det blir aktuelt."
        ),
        information="Undringsnotatet, tiltaksplanen og evalueringene i stafettloggen.",
        valid_until=date(2026, 6, 19),
    )
    add(
        ServiceInvolved, KARI, oslo(2, 2, 8, 45),
        service="helsestasjon",
        contact="Helga Helsesykepleier",
        consent_id=CONSENT_ID,
    )
    add(
        MeetingHeld, KARI, oslo(2, 5, 14, 0),
        recorded_after=timedelta(hours=1),
        kind="stafettmote",
        participants=("Kari Lærer", "Rita Rektor", "Helga Helsesykepleier", "Foresatte"),
        plans_tiltak=True,
        next_meeting_on=date(2026, 3, 5),
        summary=(
            "Første stafettmøte; stafettloggen er åpnet. Helsestasjonen tilbyr tre samtaler "
            "med helsesykepleier om magesmerter og det å gruble. Skolen prøver en "
            "samtalegruppe for elever på 7. trinn."
        ),
    )
    add(
        EvaluationRecorded, KARI, oslo(2, 13, 14, 30),
        tiltak_ids=(TILTAK_ID,),
        outcome="effect_not_there_yet",
        child_view=(
            "Friminuttene er bedre nå. Han vil fortsatt ha en voksen ved banen, særlig på "
            "fredager."
        ),
        guardians_view="Mindre vondt i magen om morgenen; ikke fravær siden tiltaket startet.",
    )
    add(
        TrackFlagged, KARI, oslo(2, 20, 15, 40),
        flag="violence_suspected",
        reason=(
            "Han fortalte i dag at storebroren slår ham når foreldrene ikke er hjemme, og "
            "viste et blåmerke på armen. Foresatte involveres ikke før barneverntjenesten har "
            "vurdert saken."
        ),
    )
    add(
        ReminderIssued, DAEMON, oslo(2, 21, 7, 0),
        recorded_after=timedelta(0),
        event_id=uuid5(EXAMPLES_NAMESPACE, f"{REPORT_DEADLINE_ID}:overdue"),
        deadline_id=REPORT_DEADLINE_ID,
        rule="report_to_barnevern",
        stage="overdue",
        due_at=end_of_day(date(2026, 2, 20)),
        to=("Kari Lærer", "Rita Rektor"),
    )
    reminder_id = uuid5(EXAMPLES_NAMESPACE, f"{REPORT_DEADLINE_ID}:overdue")
    add(
        ReminderDeliveryFailed, DAEMON, oslo(2, 21, 7, 0) + timedelta(seconds=10),
        recorded_after=timedelta(0),
        event_id=uuid5(reminder_id, "failed:webhook:1"),
        reminder_event_id=reminder_id,
        channel="webhook",
        attempt=1,
        idempotency_key=str(reminder_id),
        error="HTTP 503 Service Unavailable",
        retry_at=oslo(2, 21, 7, 1) + timedelta(seconds=10),
    )
    add(
        ReminderDelivered, DAEMON, oslo(2, 21, 7, 1) + timedelta(seconds=12),
        recorded_after=timedelta(0),
        event_id=uuid5(reminder_id, "delivered:webhook"),
        reminder_event_id=reminder_id,
        channel="webhook",
        attempt=2,
        idempotency_key=str(reminder_id),
    )
    add(
        ReportedToBarnevern, RITA, oslo(2, 23, 8, 30),
        to="barnevern",
        reference="BV-2026-142",
    )
    add(
        DeviationRecorded, RITA, oslo(2, 23, 9, 0),
        rule="report_to_barnevern",
        what_happened=(
            "Meldingen til barneverntjenesten ble sendt mandag 23.02 kl. 08.30, ikke samme "
            "dag som mistanken oppsto (fredag 20.02 kl. 15.40)."
        ),
        why=(
            "Kontaktlærer fikk ikke tak i rektor fredag ettermiddag og var usikker på om hun "
            "kunne melde selv. Alle ansatte er minnet om at de selv kan og skal melde direkte "
            "til barneverntjenesten eller politiet."
        ),
        about_event=event_id_of(ReportedToBarnevern),
    )
    add(
        StafettHandoverProposed, KARI, oslo(3, 2, 10, 0),
        to_person="Sigrid Spes",
        to_service="skole",
    )
    add(StafettHandoverAccepted, SIGRID, oslo(3, 3, 8, 15))
    add(
        StafettHandoverDeclined, SIGRID, oslo(3, 3, 8, 20),
        reason=(
            "Jeg har ikke rom for det før etter vinterferien; Kari beholder stafetten til "
            "neste stafettmøte."
        ),
    )
    add(
        ChildConversationHeld, SIGRID, oslo(3, 5, 15, 0),
        trusted_adult="Sigrid Spes",
        summary=(
            "Fortalte ham hva stafettmøtet i dag ble enige om: den voksne ved fotballbanen "
            "fortsetter ut skoleåret, og samtalene på helsestasjonen går videre. Han lurte på "
            "om storebroren får vite hva han har sagt; jeg forklarte at barneverntjenesten "
            "tar seg av det."
        ),
    )
    add(
        FlagCleared, RITA, oslo(3, 10, 11, 0),
        flag="violence_suspected",
        reason=(
            "Barneverntjenesten har avsluttet undersøkelsen (brev 09.03.2026): familien har "
            "fått veiledning, og storebroren får oppfølging. Foresatte kan igjen involveres."
        ),
    )
    add(
        TiltakCompleted, SIGRID, oslo(3, 13, 12, 0),
        tiltak_id=TILTAK_ID,
        note=(
            "Målet er nådd: han er med i leken og sier selv at han har det trygt. Den voksne "
            "ved banen går over i vanlig inspeksjon."
        ),
    )
    add(
        TiltakCancelled, SIGRID, oslo(3, 13, 12, 5),
        tiltak_id=SAMTALEGRUPPE_ID,
        reason=(
            "For få elever ville være med i samtalegruppen; helsestasjonen tilbyr "
            "enkeltsamtaler i stedet."
        ),
    )
    add(
        ConsentWithdrawn, SIGRID, oslo(3, 20, 10, 0),
        consent_id=CONSENT_ID,
        withdrawn_by="guardians",
        services=("ppt",),
    )
    add(
        ServiceReleased, SIGRID, oslo(3, 20, 10, 5),
        service="helsestasjon",
        reason=(
            "Samtalene med helsesykepleier er avsluttet; magesmertene er borte, og han har "
            "ikke hatt fravær siden februar."
        ),
    )
    add(
        EntryCorrected, RITA, oslo(3, 20, 11, 0),
        corrects=event_id_of(ReportedToBarnevern),
        fields={"reference": "BV-2026-0142"},
        why=(
            "Saksnummeret fra barneverntjenesten ble skrevet uten null; riktig nummer står i "
            "brevet av 09.03.2026."
        ),
    )
    add(
        CaseClosed, RITA, oslo(4, 17, 14, 0),
        reason=(
            "Målet er nådd, og barneverntjenesten har avsluttet sin undersøkelse; foresatte "
            "og eleven er enige i at saken avsluttes."
        ),
        closing_note=(
            "Uroen gjaldt utestenging og erting i friminuttene (§ 12-sak) og senere mistanke "
            "om vold i hjemmet, meldt til barneverntjenesten. Tiltaket med fast voksen ved "
            "fotballbanen virket; han sier selv at han har det trygt på skolen. Foresatte og "
            "eleven er minnet om at de er velkomne til å be om hjelp igjen."
        ),
    )
    add(
        CaseReopened, RITA, oslo(9, 7, 9, 30),
        reason=(
            "Ny kontaktlærer på 8. trinn ser at han igjen er mye alene i friminuttene, og "
            "foresatte har bedt om et møte."
        ),
    )
    # Only the shape: in a ledger an erasure comes after a closing, by the case's leader, once
    # the rulebook's retention period has passed since then (docs/privacy.md).
    closed = next(e for e in story.events if isinstance(e, CaseClosed))
    add(
        CaseErased, RITA, oslo(9, 1, 9, 0, year=2036),
        reason="Oppbevaringstiden på 10 år etter avslutning er ute; saken er arkivert (eksportert).",
        closed_at=closed.occurred_at,
        retention_years=10,
    )
    return story.events


def _rulebook_adopted() -> RulebookAdopted:
    rulebook = load_rulebook("default")
    occurred_at = oslo(1, 5, 8, 0)
    return RulebookAdopted(
        event_id=event_id_of(RulebookAdopted),
        sequence=1,
        ledger_id=LEDGER_ID,
        actor=COORDINATOR,
        occurred_at=occurred_at,
        recorded_at=occurred_at,
        rulebook=rulebook.name,
        rulebook_version=rulebook.version,
        rulebook_digest=rulebook.digest,
        rulebook_document=rulebook.model_dump(mode="json"),
    )


@cache
def _by_type() -> dict[type[Event], Event]:
    events: list[Event] = [_rulebook_adopted(), *_case_story()]
    return {type(event): event for event in events}


def all_examples() -> list[Event]:
    """One example of every event type: the rulebook adopted, then the case in sequence order."""
    return list(_by_type().values())


@overload
def example(event_type: type[E]) -> E: ...
@overload
def example(event_type: str) -> Event: ...
def example(event_type: type[Event] | str) -> Event:
    """The example of one event type, given as its class or its `type` name."""
    cls = EVENT_TYPES.get(event_type) if isinstance(event_type, str) else event_type
    found = _by_type().get(cls) if cls is not None else None
    if found is None:
        raise KeyError(f"no example for event type {event_type!r}")
    return found


__all__ = ["CASE_ID", "EXAMPLES_NAMESPACE", "NOTICED_AT", "all_examples", "event_id_of", "example"]
