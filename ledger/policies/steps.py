"""Where a case stands (its level and step, trinn) and what to do next ("what now?").

The step model is seed 001's: five numbered steps on each level, the most detailed of the
seeds (docs/seed-review.md § 7). Each step has a catalogue key `step.<step_key>` whose text
is the seed's own name for it.

| level | 1 | 2 | 3 | 4 | 5 |
|---|---|---|---|---|---|
| 0 Undring | Undring oppstår | Konkretiser undringen | Del undringen | Grunn til å gå videre? | Avslutt |
| 1 Fra bekymring til tiltak | Konkretiser bekymringen | Planlegg tiltak | Iverksett tiltak | Evaluer tiltak | Avklar og beslutt |
| 2 Tverrfaglig innsats | Etabler kontakt med annen tjeneste | Planlegg tiltak | Iverksett tiltak | Evaluer tiltak | Avklar og beslutt |
| 3 Samskape | Forbered møte i tverrfaglig team | Skap felles forståelse og planlegg tiltak | Iverksett koordinerte tiltak | Evalueringsmøte | Felles beslutningsprosess |

How the step is derived (`position`)
------------------------------------
The events of the current level are read in the order they were recorded, with
corrections laid over them (`corrected_events`). The level's events begin at the undring,
at the latest LevelChanged, or at the latest CaseReopened, whichever came last; there the
case stands at step 1. Each event that shows a step's work (a *marker*) moves the case on
to that step, never back, and a decision moves it to where the decision leads:

- Nivå 0 (001 N0):
  1. the undring is registered (001 N0 1 "Undring oppstår"). The registration carries the
     undringsnotat, so writing the observations is part of it.
  2. SharedWithLeader (001 N0 2 "Konkretiser undringen", *Hvordan* 2: "Del undringen og
     observasjonene med en leder eller kollega"; 000 N0 T2 "Del bekymringen med leder").
  3. SamtaleInvited (001 N0 3 "Del undringen": "Ha en samtale med barnet eller ungdommen og
     de foresatte … Forbered deg på samtalen"; 000 N0 T3 "inviterer til og gjennomfører").
  4. SamtaleHeld: the samtale is behind, the question is whether to go on (001 N0 4 "Grunn
     til å gå videre?"); also what 001 lists under step 4: an anonymous consultation
     ("Diskuter gjerne problemstillingen anonymt med kolleger i andre tjenester") and the
     consent form (*Verktøy*: "Samtykkeskjema"), given or refused; and any decision but
     closing (to level 1 or 2, or to go on watching).
  5. a decision to close, or the case closed (001 N0 5 "Avslutt": "Du må dokumentere").
  Sharing with the leader is step 2's in 001, not step 3's: "Del undringen" (3) is the
  samtale with the child and the guardians. A samtale invited before the leader was told
  still stands at step 3 (sharing with a leader is optional in 001; 000's duty to do it
  first is a deadline and an advice, not a step).
- Nivå 1, 2 and 3 (001 N1–N3):
  1. the level is entered (LevelChanged): N1 "Konkretiser bekymringen"; N2 "Etabler kontakt
     med annen tjeneste" — rule 6 lets a case reach level 2 only with another service
     involved (ServiceInvolved comes before the LevelChanged), so the contact is made by
     then; N3 "Forbered møte i tverrfaglig team (ressursteam eller SLT)".
  2. TiltakPlanned, or a MeetingHeld that plans tiltak (N1 2, N2 2 "Planlegg tiltak";
     N3 2 "Skap felles forståelse og planlegg tiltak", the meeting in the team).
  3. TiltakStarted (N1 3, N2 3 "Iverksett tiltak"; N3 3 "Iverksett koordinerte tiltak"); on
     nivå 3 also ChildConversationHeld ("Senest en uke etter møtet snakker en tillitsperson
     med barnet").
  4. EvaluationRecorded (N1 4, N2 4 "Evaluer tiltak"; N3 4 "Evalueringsmøte").
  5. DecisionRecorded (N1 5, N2 5 "Avklar og beslutt"; N3 5 "Felles beslutningsprosess"),
     or the case closed. Where the decision leads:
     - close, level up, level down: step 5 until the case is closed or the level changes;
       work shown after it (a new evaluation) opens the round again at that step, so the
       step is 5 only when the decision is the latest word ("a DecisionRecorded after the
       last evaluation");
     - new round: step 2 (001 N3 5: "Blir bekymringen opprettholdt, begynner en på ny runde
       fra trinn 2 på nivå 3"); also on nivå 1 and 2, where 001 says nothing of rounds;
     - change tiltak: step 2 (001 N1 5, N2 5 "endre … tiltakene": the changed tiltak are
       planned again);
     - continue: step 3 (001 N1 5, N2 5 "videreføre … tiltakene": they go on being carried
       out).

A closed case stands at step 5 of its level. A reopened one starts its level again at
step 1 (CaseReopened also restarts the nivå-0 decision clock, DOMAIN.md).

What now (`what_now`)
---------------------
A list of `Advice`, most urgent first. Each is a `(key, params)` pair: `key` is a catalogue
key (`what_now.*`, or `deadline.<rule>` inside a deadline's advice) and `params` fills its
placeholders; a param that is itself an `Advice` is a phrase rendered in the same language
(`render` does both). The order:

1. violence, abuse or serious neglect suspected and not reported since it was suspected:
   report to barnevern today, do not involve the guardians (000 N0 T1, 001 every level);
2. the deadlines passed in that were missed and are still not done, oldest first;
3. services that rely on a consent that is gone: a new consent, or release the service
   (rule 4);
4. violence suspected and reported: the guardians stay out while the suspicion stands;
5. the deadlines passed in that are open, soonest first;
6. duties the case shows that no deadline passed in covers: § 12 innkalling within a
   week (000 N0 T1), § 12 investigation "snarest" (000 § 12-4), § 42 investigation
   "snarest" (000), share with the nearest leader — rektor in a § 12-sak (000 N0 T2,
   § 12-4);
7. a stafett handover waiting for the person proposed;
8. a level change decided but not yet made;
9. the next thing the step asks for (001's *Hvordan*), unless an advice above already says it.

A closed case gets only 1 and 2 (the report is never cancelled by closing).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from ledger.case import Case, corrected_events
from ledger.events import (
    AnonymousConsultationHeld,
    CaseEvent,
    CaseReopened,
    ChildConversationHeld,
    ConsentGiven,
    ConsentRefused,
    DecisionRecorded,
    EvaluationRecorded,
    FlagCleared,
    InvestigationRecorded,
    LevelChanged,
    MeetingHeld,
    ReportedToBarnevern,
    SamtaleHeld,
    SamtaleInvited,
    SharedWithLeader,
    TiltakPlanned,
    TiltakStarted,
    TrackFlagged,
    UndringRegistered,
)
from ledger.messages import Language, text

STEP_KEYS: dict[int, tuple[str, str, str, str, str]] = {
    0: ("n0.noticed", "n0.concretise", "n0.share", "n0.decide", "n0.close"),
    1: ("n1.concretise", "n1.plan", "n1.start", "n1.evaluate", "n1.decide"),
    2: ("n2.contact", "n2.plan", "n2.start", "n2.evaluate", "n2.decide"),
    3: ("n3.prepare", "n3.plan", "n3.start", "n3.evaluate", "n3.decide"),
}
"""The five steps of each level (001), as catalogue keys under `step.`."""

_DECIDE = 5


@dataclass(frozen=True)
class Position:
    """Where a case stands: its level (nivå), its step (trinn) 1–5 and the step's key."""

    level: int
    step: int
    step_key: str

    @property
    def catalogue_key(self) -> str:
        """The step's name in the catalogue, e.g. `step.n0.share`."""
        return f"step.{self.step_key}"

    @property
    def level_key(self) -> str:
        """The level's name in the catalogue, e.g. `step.level.n0`."""
        return f"step.level.n{self.level}"


class Advice(NamedTuple):
    """One thing to do next: a catalogue key and the values for its placeholders."""

    key: str
    params: Mapping[str, object]


def render(advice: Advice, language: Language | None = None) -> str:
    """The advice as a sentence in `language` (default: the chosen one)."""
    params = {
        name: render(value, language) if isinstance(value, Advice) else value
        for name, value in advice.params.items()
    }
    return text(advice.key, language, **params)


# ---- position -----------------------------------------------------------------------------


def position(case: Case) -> Position:
    """The level and step `case` stands at, derived from its events (see the module doc)."""
    level = case.level
    if case.status == "closed":
        return _at(level, _DECIDE)
    step, settled = 1, False
    for event in _level_events(case):
        if isinstance(event, DecisionRecorded):
            step = _decided(level, event)
            settled = step == _DECIDE
            continue
        marker = _marker(level, event)
        if marker is not None:
            # Work shown after a decision to close or change level opens the round again.
            step = marker if settled else max(step, marker)
            settled = False
    return _at(level, step)


def _at(level: int, step: int) -> Position:
    return Position(level, step, STEP_KEYS[level][step - 1])


def _level_events(case: Case) -> list[CaseEvent]:
    """The case's events (as corrected) since it entered its current level or was reopened."""
    events = corrected_events(case.events)
    starts = [
        i for i, e in enumerate(events)
        if isinstance(e, UndringRegistered | LevelChanged | CaseReopened)
    ]
    return events[starts[-1] + 1:] if starts else events


def _marker(level: int, event: CaseEvent) -> int | None:
    """The step whose work `event` shows on `level`, if any (001; see the module doc)."""
    if level == 0:
        if isinstance(event, SharedWithLeader):
            return 2
        if isinstance(event, SamtaleInvited):
            return 3
        if isinstance(event, SamtaleHeld | AnonymousConsultationHeld | ConsentGiven | ConsentRefused):
            return 4
        return None
    if isinstance(event, TiltakPlanned) or (isinstance(event, MeetingHeld) and event.plans_tiltak):
        return 2
    if isinstance(event, TiltakStarted) or (level == 3 and isinstance(event, ChildConversationHeld)):
        return 3
    if isinstance(event, EvaluationRecorded):
        return 4
    return None


def _decided(level: int, decision: DecisionRecorded) -> int:
    """The step a decision leads to on `level`."""
    if level == 0:
        return _DECIDE if decision.outcome == "close" else 4
    return {"new_round": 2, "change_tiltak": 2, "continue": 3}.get(decision.outcome, _DECIDE)


# ---- what now -----------------------------------------------------------------------------


def what_now(
    case: Case, open_deadlines: Sequence[Any] = (), *, at: datetime | None = None
) -> list[Advice]:
    """What to do next on `case`, most urgent first (see the module doc for the order).

    `open_deadlines` are deadlines of this case as `ledger.policies.deadlines` gives them
    (anything with `.rule`, `.due_at` and `.state`; `.met_by` and `.basis_event_id` are read
    if present): missed ones not yet done, and open ones, are advised with their dates; met
    and cancelled ones are passed over. `at` judges consents (expiry); without it, the
    moment of the case's latest event, which sees withdrawals but not expiry since.
    """
    if case.status == "new":
        return []
    report = _report_needed(case)
    todo = [
        d for d in _actionable(open_deadlines)
        if not (report and d.rule == "report_to_barnevern")  # the first advice says it
    ]
    advice = [Advice("what_now.report_violence", {})] if report else []
    advice.extend(
        Advice("what_now.overdue", {"due": d.due_at, "duty": _duty(case, d)})
        for d in todo if d.state == "missed"
    )
    if case.status == "closed":
        return advice
    at = at or case.last_activity or case.noticed_at
    advice.extend(
        Advice("what_now.consent_lost", {"service": service})
        for service in sorted(case.services_relying_on_lost_consent(at) if at else ())
    )
    if case.violence_suspected and not report:
        advice.append(Advice("what_now.guardians_excluded", {}))
    advice.extend(
        Advice("what_now.upcoming", {"due": d.due_at, "duty": _duty(case, d)})
        for d in todo if d.state == "open"
    )
    covered = {str(d.rule) for d in todo} | ({"report_to_barnevern"} if report else set())
    for item, rules in (*_duties(case), *_waiting(case), *_next_step(case)):
        if covered.isdisjoint(rules):
            advice.append(item)
            covered |= rules
    return advice


Covers = frozenset[str]
"""The deadline rules an advice says the same as: it is left out when one is advised."""


def _actionable(deadlines: Sequence[Any]) -> list[Any]:
    """Deadlines still to be done (missed and not done late, or open), by due date."""
    todo = [
        d for d in deadlines
        if d.state == "open" or (d.state == "missed" and getattr(d, "met_by", None) is None)
    ]
    return sorted(todo, key=lambda d: (d.due_at, str(d.rule)))


def _duty(case: Case, deadline: Any) -> Advice:
    """The duty a deadline is about, as a phrase: its label `deadline.<rule>`, or for a
    tiltak's evaluation the tiltak by name."""
    basis_id = getattr(deadline, "basis_event_id", None)
    basis = case.event(basis_id) if basis_id is not None else None
    if deadline.rule == "tiltak_evaluation" and isinstance(basis, TiltakPlanned):
        return Advice("what_now.duty.tiltak_evaluation", {"tiltak": basis.description})
    return Advice(f"deadline.{deadline.rule}", {})


def _report_needed(case: Case) -> bool:
    """Violence suspected, and no report since the suspicion was last lifted (as deadlines.py
    reads it: in an emergency one reports first and records the flag afterwards)."""
    reported = False
    for event in corrected_events(case.events):
        if isinstance(event, ReportedToBarnevern):
            reported = True
        elif isinstance(event, FlagCleared) and event.flag == "violence_suspected":
            reported = False
    return case.violence_suspected and not reported


def _duties(case: Case) -> list[tuple[Advice, Covers]]:
    """Duties the case's tracks and the sharing call for (000 N0 T1–T2, § 12-4, § 42)."""
    found: list[tuple[Advice, Covers]] = []
    if "skolemiljo" in case.tracks:
        if not case.violence_suspected and not _done_since(case, "skolemiljo", _invites_guardians):
            found.append((Advice("what_now.s12_innkalling", {}), frozenset({"s12_innkalling"})))
        if not _done_since(case, "skolemiljo", _investigates):
            found.append((Advice("what_now.s12_investigate", {}), frozenset()))
    if "barnehagemiljo" in case.tracks and not _done_since(case, "barnehagemiljo", _investigates):
        found.append((Advice("what_now.s42_investigate", {}), frozenset({"s42_barnehagemiljo"})))
    if case.leader is None:
        key = "share_with_rektor" if "skolemiljo" in case.tracks else "share_with_leader"
        found.append((Advice(f"what_now.{key}", {}), frozenset({"share_with_leader"})))
    return found


def _invites_guardians(event: CaseEvent) -> bool:
    if isinstance(event, SamtaleInvited):
        return "guardians" in event.with_whom
    return isinstance(event, SamtaleHeld) and "guardians" in event.participants


def _investigates(event: CaseEvent) -> bool:
    return isinstance(event, InvestigationRecorded)


def _done_since(case: Case, track: str, done: Callable[[CaseEvent], bool]) -> bool:
    """Whether an event that `done` accepts came after `track` was last set on the case."""
    found = False
    for event in corrected_events(case.events):
        if (isinstance(event, UndringRegistered) and track in event.tracks) or (
            isinstance(event, TrackFlagged) and event.flag == track
        ):
            found = False
        elif done(event):
            found = True
    return found


def _waiting(case: Case) -> list[tuple[Advice, Covers]]:
    """A handover or a level change that was set going and waits for its second half."""
    found: list[tuple[Advice, Covers]] = []
    if case.pending_handover is not None:
        pending = case.pending_handover
        found.append((
            Advice("what_now.handover_waiting",
                   {"person": pending.to_person, "service": pending.to_service}),
            frozenset(),
        ))
    if case.pending_level is not None:
        found.append((Advice("what_now.pending_level", {"level": case.pending_level}), frozenset()))
    return found


_STEP_COVERS: dict[str, Covers] = {
    "n0.noticed": frozenset({"share_with_leader"}),
    "n0.concretise": frozenset({"samtale_with_guardians", "s12_innkalling"}),
    "n0.share": frozenset({"samtale_with_guardians"}),
    "n0.decide": frozenset({"decision_level0"}),
    "n1.start": frozenset({"tiltak_evaluation"}),
    "n2.start": frozenset({"tiltak_evaluation"}),
    "n3.plan": frozenset({"child_talk_after_level3_meeting"}),
    "n3.start": frozenset({"tiltak_evaluation"}),
}
"""The deadline rules whose advice already says what a step's next action says."""

_WITH_GUARDIANS = frozenset({
    "n0.concretise", "n0.share", "n0.decide", "n1.concretise", "n1.evaluate", "n2.contact",
    "n2.evaluate", "n3.prepare", "n3.evaluate",
})
"""Steps whose next action (001's *Hvordan*) is done with the guardians: not advised while
violence, abuse or serious neglect is suspected (rule 3; 001 on every level: "De foresatte
blir ikke involvert")."""


def _next_step(case: Case) -> list[tuple[Advice, Covers]]:
    """What the step the case stands at asks for next (001's *Hvordan*)."""
    if case.pending_level is not None:
        return []  # the level is decided: `what_now.pending_level` says what is left
    where = position(case)
    if where.step == _DECIDE:
        closing = bool(case.decisions) and case.decisions[-1].outcome == "close"
        return [(Advice("what_now.close_case", {}), frozenset())] if closing else []
    if case.violence_suspected and where.step_key in _WITH_GUARDIANS:
        return []
    covers = _STEP_COVERS.get(where.step_key, frozenset())
    return [(Advice(f"what_now.next.{where.step_key}", {}), covers)]
