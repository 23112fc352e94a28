"""Write docs/events.md, the reference of every event, from the event models themselves.

    .venv/bin/python docs/generate_events.py            # rewrite docs/events.md
    .venv/bin/python docs/generate_events.py --check    # exit 1 if docs/events.md is stale
    .venv/bin/python docs/generate_events.py --stdout   # print instead of writing

Names, actions, docstrings, field types and the examples come from `ledger.events` and
`ledger/events/examples.py`; what is written here by hand is only what the models do not
say: which DOMAIN.md rules and deadlines apply to each event, and the descriptions of fields
whose model gives none (`FIELD_NOTES`, until the models carry them as `Field(description=…)`).
`tests/test_completeness.py` regenerates the text in memory and compares, so the document
cannot drift from the code.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson
from pydantic import TypeAdapter

from ledger.events import ACTION_OF, EVENT_TYPES, Actor, Event, event_to_json
from ledger.events.base import Name, Service, Text
from ledger.events.examples import example
from ledger.events.personal import personal_fields

OUTPUT = Path(__file__).with_name("events.md")

COMMON_FIELDS = (
    "type", "schema_version", "event_id", "sequence", "actor", "occurred_at", "recorded_at",
    "case_id", "ledger_id",
)
"""Fields every event carries, described once in the introduction."""

FAMILIES: dict[str, str] = {
    "case": "Case (sak)",
    "samtale": "Samtale and meetings",
    "consent": "Consent (samtykke) and services",
    "tiltak": "Tiltak and evaluation",
    "stafett": "Stafett",
    "reminders": "Reminders",
    "ledger": "The ledger itself",
}
"""Each event's `family`, in the order the document presents them."""

RULES: dict[int, str] = {
    1: "no event on an unknown case; none on a closed case except CaseReopened and EntryCorrected",
    2: "`occurred_at` is not in the future and not before the undring's `noticed_at`",
    3: "violence or abuse suspected: guardians are not involved",
    4: "consent before other services",
    5: "who may consent: guardians, or a youth at or above the self-consent age",
    6: "level 2 needs another service; level 3 the rulebook's minimum or an ansvarsgruppe",
    7: "a § 12-sak's tiltak plan states all five elements of § 12-4",
    8: "an evaluation names tiltak of the case and the child's view or why it is missing",
    9: "stafett handover: proposed by holder or leader, answered by the person proposed",
    10: "corrections, never edits",
}
"""DOMAIN.md's ten rules, in a line each (the full text is in DOMAIN.md)."""

APPLIES: dict[str, tuple[str, str]] = {
    "UndringRegistered": (
        "Rule 1: it begins the case, and a case is registered once (`case_exists`). "
        "Rule 2: `noticed_at` is the time every later event is measured against. "
        "Rule 3: `violence_suspected` set here excludes the guardians from the start. "
        "Rule 5: `child_birth_date` (not in the future) decides when the child may consent alone.",
        "starts *share with leader*, *samtale with guardians* (+3 weeks) and *decision on "
        "nivå 0* (+2 weeks); with `skolemiljo` *§ 12 innkalling* (+1 week from "
        "`noticed_at`); with `barnehagemiljo` *§ 42 barnehagemiljø*; with "
        "`violence_suspected` *report to barnevern* (end of that day).",
    ),
    "SharedWithLeader": ("Only the rules every case event follows.", "meets *share with leader*."),
    "TrackFlagged": (
        "A flag already set is refused (`flag_already_set`). Rule 3: `violence_suspected` "
        "excludes the guardians from now on.",
        "`skolemiljo` starts *§ 12 innkalling* (+1 week from `occurred_at`); "
        "`barnehagemiljo` starts *§ 42 barnehagemiljø*; `violence_suspected` starts *report "
        "to barnevern* (end of that day) and cancels *§ 12 innkalling* and *samtale with "
        "guardians*.",
    ),
    "FlagCleared": (
        "A flag that is not set is refused (`flag_not_set`). Rule 3: clearing "
        "`violence_suspected` lets the guardians be involved again.",
        "clearing `skolemiljo` or `barnehagemiljo` cancels that track's open *§ 12 "
        "innkalling* or *§ 42 barnehagemiljø*. Deadlines the violence flag cancelled stay "
        "cancelled.",
    ),
    "InvestigationRecorded": (
        "Only the rules every case event follows.", "meets *§ 42 barnehagemiljø*."
    ),
    "SchoolOwnerNotified": (
        "Only in a § 12-sak, a case with the `skolemiljo` track (`not_a_s12_case`; 000 "
        "§ 12-4: «Rektor skal melde fra til kommunen i alvorlige tilfeller»).",
        "none.",
    ),
    "ReportedToBarnevern": (
        "Rules 3 and 4: a report never needs consent (004: «uavhengig av om foreldrene "
        "samtykker»), so a person of any service may record it.",
        "meets *report to barnevern* (to barnevern, the police or both).",
    ),
    "AnonymousConsultationHeld": (
        "Rule 4: an NN-drøfting needs no consent and shares no identity. In a ressursteam the "
        "guardians should be told (001), hence `guardians_told`.",
        "none.",
    ),
    "SamtaleInvited": (
        "Rule 3: an innkalling of the guardians is refused while `violence_suspected` stands "
        "(`guardians_excluded_violence`).",
        "with guardians, meets *§ 12 innkalling*.",
    ),
    "SamtaleHeld": (
        "Rule 3: a samtale with the guardians is refused while `violence_suspected` stands. The "
        "child has the right, not the duty, to give its view: `child_view` may be null.",
        "with guardians, meets *samtale with guardians* and *§ 12 innkalling*; meets *§ 42 "
        "barnehagemiljø*.",
    ),
    "ConsentGiven": (
        "Rule 3: consent by the guardians is refused while `violence_suspected` stands. Rule 4: it lets "
        "the named services into the case until `valid_until` (a person of a named service "
        "may record it). Rule 5: a child consents alone only at or above the rulebook's "
        "self-consent age (`consent_child_too_young`). A `valid_until` already passed is "
        "refused.",
        "starts *consent expiry* (`valid_until`); meets the *consent expiry* of an earlier "
        "consent for the same services.",
    ),
    "ConsentRefused": (
        "Rules 3 and 5 apply to who refused, as to who consents. A refusal is kept so that it "
        "is seen.",
        "none.",
    ),
    "ConsentWithdrawn": (
        "Rule 4: the withdrawn services lose access at once, and the case shows services that "
        "rely on a consent that is gone. Withdrawal may be partial (`services`). The "
        "guardians may withdraw even while `violence_suspected` stands. Rule 5 applies to who "
        "withdraws.",
        "cancels the consent's *consent expiry* once every service of it is withdrawn.",
    ),
    "ServiceInvolved": (
        "Rule 4: needs an active consent that covers the service (the one named in `consent_id`, "
        "else any). The case's own service is not involved (`service_is_own`), nor a service "
        "twice. Rule 6: involved services count towards level 2 and 3.",
        "none.",
    ),
    "ServiceReleased": (
        "Only a service that is involved (`service_not_involved`). Rule 6: it no longer counts "
        "towards the level.",
        "none.",
    ),
    "StafettholderAssigned": (
        "Assigned by a leader or the current holder (`assign_not_allowed`; on nivå 0 the "
        "person who registered the undring holds the case). Rule 4: a holder from another service "
        "needs a consent that covers it.",
        "a pending handover proposal is superseded: cancels *handover not accepted*.",
    ),
    "StafettHandoverProposed": (
        "Rule 9: proposed by the holder or a leader, one proposal at a time, not to the holder; "
        "rule 4: a person of another service needs a consent that covers it.",
        "starts *handover not accepted* (+ rulebook days).",
    ),
    "StafettHandoverAccepted": (
        "Rule 9: only the person proposed accepts; from now on they hold the stafett.",
        "meets *handover not accepted*.",
    ),
    "StafettHandoverDeclined": (
        "Rule 9: only the person proposed declines; the old holder keeps the stafett.",
        "meets *handover not accepted*.",
    ),
    "MeetingHeld": (
        "Rule 6: an `ansvarsgruppe` with a `coordinator` is enough for level 3 (004, 002).",
        "at level 3, with `plans_tiltak`, starts *child talk after nivå 3 meeting* (+1 week).",
    ),
    "TiltakPlanned": (
        "Rule 7: in a § 12-sak the plan must state the problem, the tiltak, when (`starts_at`), "
        "who (`responsible`) and when it is evaluated (`evaluate_by`); a plan missing one is "
        "refused naming it (`plan_missing_element`). `evaluate_by` is not before "
        "`starts_at`.",
        "starts *evaluation of a tiltak* (`evaluate_by`).",
    ),
    "TiltakStarted": ("Rule 8: only a planned tiltak of the case starts.", "none."),
    "TiltakCompleted": (
        "Rule 8: only a planned or started tiltak of the case.",
        "does not end *evaluation of a tiltak*: a completed tiltak is still evaluated.",
    ),
    "TiltakCancelled": (
        "Rule 8: only a planned or started tiltak of the case.",
        "cancels *evaluation of a tiltak* for it.",
    ),
    "ChildConversationHeld": (
        "Only the rules every case event follows.",
        "meets *child talk after nivå 3 meeting* (001 N3 3).",
    ),
    "EvaluationRecorded": (
        "Rule 8: every tiltak named exists in the case (`tiltak_unknown`), and the child's view "
        "or why it was not obtained is given (`child_view_missing`).",
        "meets *evaluation of a tiltak* for each tiltak named.",
    ),
    "DecisionRecorded": (
        "Rule 6: `level_up` and `level_down` name a higher or lower `to_level` than the case's "
        "level; the LevelChanged may wait until the services are involved. `to_level` is "
        "given only when the level moves.",
        "meets *decision on nivå 0*.",
    ),
    "LevelChanged": (
        "Rule 6: `from_level` is the case's level, and a decision to move to `to_level` came "
        "first. Level 2 needs at least one other service involved under a consent in force; "
        "level 3 the rulebook's minimum of services counting the own one, or an ansvarsgruppe "
        "with a koordinator. Levels may jump and go down again.",
        "none.",
    ),
    "BrightSpotLogged": ("Only the rules every case event follows.", "none."),
    "CaseClosed": (
        "Rule 1: after it only CaseReopened and EntryCorrected are accepted.",
        "cancels every open deadline of the case except *report to barnevern*; they stay "
        "cancelled if it is reopened. A deadline already missed stays missed.",
    ),
    "CaseReopened": (
        "Rule 1: only a closed case is reopened (`case_not_closed`).",
        "starts *decision on nivå 0* again.",
    ),
    "CaseErased": (
        "Recorded only by `bti case erase` / `CaseLedger.erase_case`, which then destroys the "
        "case's key (docs/privacy.md). Rule 1: accepted on a closed case only "
        "(`erase_case_open`), and after it nothing more (`case_erased`). Only the leader of the "
        "case's unit (`erase_not_allowed`), once `retention_years` of the rulebook have passed "
        "since the closing (`retention_not_ended`); `closed_at` and `retention_years` must be "
        "the case's and the rulebook's (`erase_facts_mismatch`).",
        "none: a closed case has no open deadline.",
    ),
    "EntryCorrected": (
        "Rule 10: points at an earlier event of the same case, which stays as it was. Ledger-set "
        "fields, `actor` and `occurred_at` cannot be corrected; the fields must be fields of "
        "that event and give a valid event. Rule 1: accepted on a closed case too.",
        "deadlines are judged on the corrected values.",
    ),
    "DeviationRecorded": (
        "Recorded by a leader (`deviation_needs_leader`); `about_event` names an event of the "
        "case. What already happened against a rule is recorded, never hidden: tilsyn "
        "reports show it.",
        "none.",
    ),
    "ReminderIssued": (
        "Recorded by the reminder daemon (role `system`), without consent. Its `event_id` is "
        "derived from (`deadline_id`, `stage`), so a reminder is issued once; "
        "`late_by_seconds` marks a stage reached while no daemon ran.",
        "does not count as activity for *stalled case*.",
    ),
    "ReminderDelivered": (
        "Recorded by the reminder daemon (role `system`) once a channel accepted the reminder. "
        "Its `event_id` is derived from (`reminder_event_id`, `channel`), so a delivery is "
        "recorded once; delivery is at least once, so the receiver may see the same "
        "`idempotency_key` again after a crash.",
        "does not count as activity for *stalled case*.",
    ),
    "ReminderDeliveryFailed": (
        "Recorded by the reminder daemon (role `system`) for each failed attempt, its "
        "`event_id` derived from (`reminder_event_id`, `channel`, `attempt`). `retry_at` says "
        "when it is tried again; null when the daemon gave up. `error` carries no case content.",
        "does not count as activity for *stalled case*.",
    ),
    "RulebookAdopted": (
        "On the ledger's own stream, not on a case. A new rulebook never rewrites history: "
        "deadlines are recomputed from the same events.",
        "the `durations` and `reminder_stages` in `rulebook_document` set how long each "
        "deadline runs and when reminders go out; after a new RulebookAdopted the deadlines "
        "are recomputed from the same events.",
    ),
}
"""Per event type: (DOMAIN.md rules beyond 1, 2 and 4; deadlines it starts, meets or cancels)."""

FIELD_NOTES: dict[str, dict[str, str]] = {
    "UndringRegistered": {
        "unit": "The unit (tjenestested) where the child was noticed, e.g. a school.",
        "tracks": "`skolemiljo` (§ 12-sak) and/or `barnehagemiljo` (§ 42-sak).",
        "violence_suspected": "Violence, abuse or serious neglect is suspected (rule 3).",
    },
    "SharedWithLeader": {"leader": "The nearest leader who was told."},
    "TrackFlagged": {
        "flag": "The track or `violence_suspected` that is set.",
        "reason": "Why it is set now.",
    },
    "FlagCleared": {
        "flag": "The track or `violence_suspected` that is lifted.",
        "reason": "Why, e.g. barnevern has concluded.",
    },
    "InvestigationRecorded": {
        "looked_into": "What the school or barnehage looked into, and how.",
        "findings": "What it found.",
    },
    "SchoolOwnerNotified": {"summary": "What the school owner was told."},
    "ReportedToBarnevern": {
        "to": "Who received the report: barnevern, the police, or both.",
        "reference": "The receiver's reference (saksnummer), if given.",
    },
    "AnonymousConsultationHeld": {
        "with_service": "The service consulted without naming the child.",
        "guardians_told": "Whether the guardians were told of the consultation.",
        "summary": "What was discussed and advised.",
    },
    "SamtaleInvited": {
        "with_whom": "Who is invited: `guardians` and/or `child`.",
        "planned_at": "When the samtale is planned.",
    },
    "SamtaleHeld": {
        "participants": "Who took part: `guardians` and/or `child`.",
        "child_view": "The child's own view (barnets mening), if the child gave it.",
        "summary": "What was said and agreed.",
    },
    "ConsentGiven": {
        "consent_id": "The consent's id, for withdrawal and for ServiceInvolved.",
        "given_by": "`guardians`, or the `child` at or above the self-consent age.",
        "services": "The services (not persons) the consent covers.",
        "purpose": "What the information is shared for.",
    },
    "ConsentRefused": {
        "refused_by": "`guardians` or the `child`.",
        "services": "The services consent was asked for.",
        "purpose": "What consent was asked for.",
    },
    "ConsentWithdrawn": {
        "consent_id": "The consent withdrawn.",
        "withdrawn_by": "`guardians` or the `child`.",
    },
    "ServiceInvolved": {
        "service": "The service that joins the case.",
        "contact": "The contact person in that service.",
    },
    "ServiceReleased": {
        "service": "The service that leaves the case.",
        "reason": "Why it leaves.",
    },
    "StafettholderAssigned": {
        "person": "The new stafettholder.",
        "service": "The stafettholder's service.",
    },
    "StafettHandoverProposed": {
        "to_person": "The person proposed as the next stafettholder.",
        "to_service": "That person's service.",
    },
    "StafettHandoverDeclined": {"reason": "Why the stafett was declined."},
    "MeetingHeld": {
        "kind": "The arena: stafettmøte, ressursteam, ansvarsgruppe, SamBa, TBU, IP-gruppe …",
        "participants": "Who took part (persons, or «Foresatte»).",
        "plans_tiltak": "Whether the meeting planned tiltak.",
        "next_meeting_on": "The date of the next meeting, if set.",
        "summary": "What the meeting discussed and agreed (the referat).",
    },
    "TiltakPlanned": {
        "tiltak_id": "The tiltak's id, for starting, completing, cancelling and evaluating it.",
        "goal": "What the tiltak should achieve.",
        "responsible_service": "The service of the person responsible.",
    },
    "TiltakStarted": {"tiltak_id": "The tiltak that began."},
    "TiltakCompleted": {
        "tiltak_id": "The tiltak carried through.",
        "note": "How it went, if anything is to be said.",
    },
    "TiltakCancelled": {
        "tiltak_id": "The tiltak stopped.",
        "reason": "Why it was stopped.",
    },
    "ChildConversationHeld": {
        "trusted_adult": "The trusted adult (tillitsperson) who talked with the child.",
        "summary": "What the child was told and said.",
    },
    "EvaluationRecorded": {
        "tiltak_ids": "The tiltak evaluated, each once.",
        "outcome": "Goal reached, effect but not there yet, or no effect.",
        "child_view": "The child's view of the tiltak.",
        "guardians_view": "The guardians' view of the tiltak.",
    },
    "DecisionRecorded": {
        "outcome": "Close, continue, change tiltak, level up or down, or a new round.",
        "to_level": "The level moved to; only with `level_up` or `level_down`.",
        "decided_by": "Who decided.",
        "reason": "Why.",
    },
    "LevelChanged": {
        "from_level": "The level the case was on.",
        "to_level": "The level the case is on now.",
        "reason": "Why; usually the decision it follows.",
    },
    "BrightSpotLogged": {"observation": "The positive observation (lysglimt)."},
    "CaseClosed": {
        "reason": "Why the case ends.",
        "closing_note": "The avslutningsnotat.",
    },
    "CaseReopened": {"reason": "Why the case is opened again."},
    "CaseErased": {"reason": "Why it was erased; stays readable after the erasure."},
    "EntryCorrected": {"why": "Why the original was wrong."},
    "DeviationRecorded": {
        "what_happened": "What happened instead of the duty.",
        "why": "Why, and what is done so it does not happen again.",
        "about_event": "The event the deviation is about, if one.",
    },
    "ReminderIssued": {
        "deadline_id": "The deadline's stable id (same events and rulebook, same id).",
        "rule": "The deadline rule: `report_to_barnevern`, `s12_innkalling`, ….",
        "stage": "`upcoming`, `due` or `overdue`.",
        "due_at": "When the deadline falls due.",
        "to": "Who is reminded (the overdue stage also goes to the leader).",
    },
    "RulebookAdopted": {
        "rulebook": "The rulebook's name (`default`, `sondre-land`, …).",
        "rulebook_version": "The rulebook's version.",
        "rulebook_digest": "sha256 of the rulebook's canonical JSON.",
    },
}
"""Descriptions of fields whose model gives none (the model's description wins)."""


def _schema_of(annotation: Any) -> dict[str, Any]:
    schema: dict[str, Any] = TypeAdapter(annotation).json_schema()
    return schema


NAMED_TYPES: tuple[tuple[str, dict[str, Any], str], ...] = (
    ("text", _schema_of(Text), "free text a person wrote: 1–20 000 characters, trimmed"),
    ("name", _schema_of(Name), "a name or short reference: 1–200 characters, trimmed"),
    ("service", _schema_of(Service), "a service (tjeneste) as a lower-case slug matching "
     "`^[a-z][a-z0-9_-]{0,39}$`: `skole`, `barnehage`, `helsestasjon`, `ppt`, `barnevern` …"),
)
"""Short names for the string types the events share, recognised by their JSON Schema."""

FORMATS = {"uuid": "uuid", "date": "date", "date-time": "date-time"}


def render_type(schema: dict[str, Any]) -> str:
    """A JSON Schema fragment as a short type for a table cell."""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1].lower()
    if "anyOf" in schema:
        parts = [s for s in schema["anyOf"] if s.get("type") != "null"]
        nullable = len(parts) < len(schema["anyOf"])
        text = " or ".join(render_type(s) for s in parts)
        return f"{text} or null" if nullable else text
    if "const" in schema:
        return f"`{schema['const']}`"
    if "enum" in schema:
        return "one of " + ", ".join(f"`{value}`" for value in schema["enum"])
    kind = schema.get("type")
    if kind == "string":
        return _render_string(schema)
    if kind == "integer":
        low, high = schema.get("minimum"), schema.get("maximum")
        if low is not None and high is not None:
            return f"integer {low}–{high}"
        if low is not None:
            return f"integer ≥ {low}"
        return "integer"
    if kind == "array":
        text = "list of " + render_type(schema.get("items", {}))
        if schema.get("minItems"):
            text += f", at least {schema['minItems']}"
        return text
    if kind == "object":
        return "object, at least one key" if schema.get("minProperties") else "object"
    if kind == "boolean":
        return "boolean"
    raise ValueError(f"no rendering for JSON Schema {schema!r}")


def _render_string(schema: dict[str, Any]) -> str:
    bare = {k: v for k, v in schema.items() if k not in ("title", "description", "default")}
    for name, named, _ in NAMED_TYPES:
        if bare == named:
            return name
    if schema.get("format") in FORMATS:
        return FORMATS[schema["format"]]
    if "pattern" in schema:
        return f"string matching `{schema['pattern']}`"
    return "string"


def cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def field_rows(cls: type[Event], names: tuple[str, ...] | None = None) -> list[str]:
    """The table rows (field, type, required, description) of `cls`'s own or named fields."""
    schema = cls.model_json_schema()
    required = set(schema.get("required", ()))
    notes = FIELD_NOTES.get(cls.__name__, {})
    rows = []
    for name, info in cls.model_fields.items():
        if names is None and name in COMMON_FIELDS:
            continue
        if names is not None and name not in names:
            continue
        prop = schema["properties"][name]
        if name == "type":
            need = "always"
        elif name in required:
            need = "yes"
        else:
            default = orjson.dumps(prop.get("default")).decode()
            need = f"no (default `{default}`)"
        description = info.description or notes.get(name, "")
        if name in personal_fields(cls):
            description = f"{description} *Personal: stored encrypted (docs/privacy.md).*".strip()
        rows.append(f"| `{name}` | {cell(render_type(prop))} | {need} | {cell(description)} |")
    return rows


def pretty_json(event: Event) -> str:
    """The event's public JSON, indented for reading (keys in stored order)."""
    return orjson.dumps(orjson.loads(event_to_json(event)), option=orjson.OPT_INDENT_2).decode()


def family_doc(cls: type[Event]) -> str:
    """The first line of the docstring of the module that holds the family's events."""
    module = sys.modules[cls.__module__]
    return (module.__doc__ or "").strip().splitlines()[0]


INTRO = """\
<!-- Generated by docs/generate_events.py from the event models (ledger/events/) and their
     examples (ledger/events/examples.py). Do not edit by hand: change the code, then run
         .venv/bin/python docs/generate_events.py
     tests/test_completeness.py fails while this file differs from what the generator writes. -->

# Events: the public JSON contract

Everything the ledger knows is a list of immutable events. Each event is one JSON object,
and that JSON is the public contract: the ledger stores exactly these bytes, `bti export`
writes them one per line, an import reads them back, and `bti schema` prints the JSON
Schema of all of them (one union, told apart by `type`). Events are never edited or
deleted; a mistake is corrected by a later EntryCorrected (rule 10).

Unknown fields are refused, and so is a missing required field, a wrong type, and a time
without a UTC offset. Every field is always written, optional ones as `null` or their
default, so a reader never has to guess. The examples below tell one § 12-sak at Fossen
skole, from the undring in January 2026 to its reopening in September.

## Fields every event carries

| field | type | given by | meaning |
|---|---|---|---|
| `type` | string | the ledger | The event type, e.g. `UndringRegistered`: the name below. Tells the union apart. |
| `schema_version` | integer ≥ 1 | the ledger | The version of this type's shape (see *Versions*). |
| `event_id` | uuid | the ledger | The event's own id, unique in the ledger. Reminders derive theirs from (deadline, stage), so each is issued once. |
| `sequence` | integer ≥ 1 | the ledger | Position in its stream (the case, or the ledger's own stream), from 1, without gaps. |
| `actor` | actor | the person | Who did it (below). |
| `occurred_at` | date-time | the person | When it happened: given by the user (default: now), with a UTC offset; never in the future, never before the undring's `noticed_at` (rule 2). Deadlines are judged on it. |
| `recorded_at` | date-time | the ledger | When the ledger stored it, from the ledger's clock. |
| `case_id` | uuid | the person | The case (sak) a case event belongs to; new for UndringRegistered. |
| `ledger_id` | uuid | the ledger | Instead of `case_id`, on the ledger's own events (RulebookAdopted). |

The **actor** is who did it, as the ledger saw them:

| field | type | meaning |
|---|---|---|
{actor_rows}

Times are ISO 8601 with the offset they were given in (`2026-01-12T14:05:00+01:00`, Oslo
in winter; `+02:00` in summer); compare instants, not strings. Dates are `YYYY-MM-DD`; a
due date runs to the end of that day in Europe/Oslo.

## Types used in the tables

| type | meaning |
|---|---|
{type_rows}
| uuid | a UUID in its canonical text form |
| date | `YYYY-MM-DD` |
| date-time | ISO 8601 with a UTC offset |
| actor | the object described above |

## Versions

Every event type is at `schema_version` 1. Adding an optional field keeps the version:
older events read with its default. Renaming or removing a field, or changing what a
value means, gives the type a new `schema_version`; events already stored keep theirs and
are never rewritten, so a reader checks `type` and `schema_version` and accepts every
version it finds.

## Rules every case event follows

DOMAIN.md's rules are checked when an action is recorded; a refused action stores nothing
and names the rule and an error code. Every case event follows rule 1 (no event on an
unknown case; none on a closed case except CaseReopened and EntryCorrected), rule 2
(`occurred_at` not in the future, not before the undring) and rule 4 (a person of a
service other than the case's own acts on the case only under a consent that covers their
service; coordinators, tilsyn and the reminder daemon act by office). Each event below
names the further rules and the deadlines it starts, meets or cancels; besides those, every
case event but ReminderIssued restarts the *stalled case* deadline. The rules:

{rule_rows}

## Contents

{contents}
"""


def render() -> str:
    """The whole of docs/events.md."""
    actor_schema = Actor.model_json_schema()
    actor_rows = "\n".join(
        f"| `{name}` | {cell(render_type(actor_schema['properties'][name]))} | "
        f"{cell(_ACTOR_NOTES[name])} |"
        for name in Actor.model_fields
    )
    type_rows = "\n".join(f"| {name} | {cell(meaning)} |" for name, _, meaning in NAMED_TYPES)
    rule_rows = "\n".join(f"{number}. {text}" for number, text in RULES.items())
    by_family = events_by_family()
    contents = "\n".join(
        f"- **{FAMILIES[family]}**: " + ", ".join(
            f"[{cls.__name__}](#{cls.__name__.lower()})" for cls in classes
        )
        for family, classes in by_family.items()
    )
    parts = [
        INTRO.replace("{actor_rows}", actor_rows)
        .replace("{type_rows}", type_rows)
        .replace("{rule_rows}", rule_rows)
        .replace("{contents}", contents)
    ]
    for family, classes in by_family.items():
        parts.append(f"## {FAMILIES[family]}\n\n{family_doc(classes[0])} Family `{family}`.\n")
        parts.extend(render_event(cls) for cls in classes)
    return "\n".join(parts)


_ACTOR_NOTES = {
    "person": "The person's name (a name).",
    "role": "`staff` who meet children, their `leader`, the municipality's BTI "
    "`coordinator`, `tilsyn`, or `system` (the reminder daemon).",
    "service": "The person's service (tjeneste).",
    "unit": "The person's unit (tjenestested): a school, a barnehage, a health station.",
}


def events_by_family() -> dict[str, list[type[Event]]]:
    """Every event type under its family, families in document order, types in ACTIONS order."""
    unknown = {cls.family for cls in EVENT_TYPES.values()} - set(FAMILIES)
    if unknown:
        raise ValueError(f"families without a section in docs/events.md: {sorted(unknown)}")
    grouped: dict[str, list[type[Event]]] = {family: [] for family in FAMILIES}
    for cls in EVENT_TYPES.values():
        grouped[cls.family].append(cls)
    return {family: classes for family, classes in grouped.items() if classes}


def render_event(cls: type[Event]) -> str:
    """One event's section: action, docstring, fields, rules, deadlines, example."""
    name = cls.__name__
    action = ACTION_OF.get(cls)
    how = f"`bti record {action}`" if action else "`bti init` (not by `bti record`)"
    rules, deadlines = APPLIES[name]
    rows = field_rows(cls)
    table = (
        "| field | type | required | description |\n|---|---|---|---|\n" + "\n".join(rows)
        if rows
        else "No fields of its own: the fields every event carries say it all."
    )
    return (
        f"### {name}\n\n"
        f"{(cls.__doc__ or '').strip()}\n\n"
        f"Recorded by {how} · `schema_version` "
        f"{cls.model_fields['schema_version'].default}\n\n"
        f"{table}\n\n"
        f"**Rules:** {_capital(rules)}\n\n"
        f"**Deadlines:** {_capital(deadlines)}\n\n"
        f"```json\n{pretty_json(example(cls))}\n```\n"
    )


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 if events.md is stale")
    mode.add_argument("--stdout", action="store_true", help="print instead of writing")
    args = parser.parse_args(argv)
    text = render()
    if args.stdout:
        sys.stdout.write(text)
        return 0
    if args.check:
        current = OUTPUT.read_text("utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT} is out of date: run docs/generate_events.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
