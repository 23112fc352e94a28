"""The tilsyn report: one document for one case, as HTML (self-contained, prints well) or PDF.

It holds what tilsyn checks: the child's reference (never more of the child's identity than
the case holds), the timeline, each duty of opplæringslova § 12-4 as seed 000 quotes it
(følge med, gripe inn, melde fra, undersøke, sette inn tiltak) with the events that show
it, each deadline with its due date and when and by what it was met or missed, the
consents and who had access when (from `ledger.policies.access.grants`, replayed event by
event), and the result of verifying the hash chain with the checkpoint it rests on.

Which events show which duty is the ledger's reading of § 12-4 (`DUTIES`); a duty no event
shows is printed as such, so a gap is seen, never hidden.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from io import BytesIO
from pathlib import Path
from typing import Any
from uuid import UUID

from jinja2 import Environment, StrictUndefined, select_autoescape

from ledger.application import CaseLedger
from ledger.case import Case
from ledger.chain import CHAIN_TABLE
from ledger.events import CaseEvent, ConsentGiven, ConsentRefused, ConsentWithdrawn
from ledger.messages import current_language, text
from ledger.policies.access import OFFICE_ROLES, grants
from ledger.projections.sql import Database
from replay.checkpoint import CheckpointCheck
from replay.timeline import Entry, Timeline, build_timeline, oslo, spoken, when
from replay.verify import Verification, verify

DUTIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    # 000 § 12-4: "følge med på hvordan elevene har det"
    ("folge_med", ("UndringRegistered", "BrightSpotLogged", "EvaluationRecorded",
                   "ChildConversationHeld")),
    # "om mulig gripe inn dersom noen krenker en elev"
    ("gripe_inn", ("TrackFlagged", "SamtaleInvited", "SamtaleHeld", "StafettholderAssigned",
                   "DecisionRecorded")),
    # "melde fra til rektor … Rektor skal melde fra til kommunen"; to barnevern (000, 001)
    ("melde_fra", ("SharedWithLeader", "SchoolOwnerNotified", "ReportedToBarnevern")),
    # "Skolen skal snarest undersøke saken"
    ("undersoke", ("InvestigationRecorded", "AnonymousConsultationHeld", "MeetingHeld")),
    # "rette opp situasjonen med egnede tiltak"; the written plan
    ("sette_inn_tiltak", ("TiltakPlanned", "TiltakStarted", "TiltakCompleted", "TiltakCancelled",
                          "EvaluationRecorded", "ServiceInvolved", "LevelChanged")),
)
"""Each duty and the event types that show it was done."""


@dataclass(frozen=True)
class Duty:
    key: str
    title: str
    explanation: str
    entries: list[Entry]


@dataclass(frozen=True)
class ConsentLine:
    sequence: int
    kind: str
    label: str
    party: str
    services: str
    purpose: str
    valid_until: str
    occurred_at: datetime


@dataclass(frozen=True)
class AccessPeriod:
    """Who could read (and write) the case, on what basis, from when until when."""

    principal: str
    basis: str
    writes: bool
    start: datetime
    end: datetime | None
    end_reason: str


@dataclass
class CaseReport:
    """Everything the report prints, in the current language."""

    timeline: Timeline
    duties: list[Duty]
    consents: list[ConsentLine]
    access: list[AccessPeriod]
    verification: Verification
    case_head: str | None
    checkpoint: CheckpointCheck | None
    produced_at: datetime
    language: str
    labels: dict[str, str] = field(default_factory=dict)


def build_report(
    ledger: CaseLedger, case_id: UUID | str, checkpoint: CheckpointCheck | None = None
) -> CaseReport:
    """The report of one case, verified now against the whole ledger."""
    events = ledger.history(case_id)
    now = ledger.clock()
    timeline = build_timeline(events[0].case_id, events, ledger.rulebook, now)
    verification = checkpoint.verification if checkpoint is not None else verify(ledger.store)
    return CaseReport(
        timeline=timeline,
        duties=duties(timeline),
        consents=consent_lines(events),
        access=access_periods(events, now),
        verification=verification,
        case_head=case_head(ledger, timeline.case_id),
        checkpoint=checkpoint,
        produced_at=oslo(now),
        language=current_language(),
        labels=report_labels(),
    )


def duties(timeline: Timeline) -> list[Duty]:
    return [
        Duty(
            key,
            text(f"report.duty.{key}"),
            text(f"report.duty_why.{key}"),
            [e for e in timeline.entries if e.type in types],
        )
        for key, types in DUTIES
    ]


def consent_lines(events: list[CaseEvent]) -> list[ConsentLine]:
    lines = []
    for e in events:
        if isinstance(e, ConsentGiven):
            party, services, purpose, until = e.given_by, e.services, e.purpose, e.valid_until
        elif isinstance(e, ConsentRefused):
            party, services, purpose, until = e.refused_by, e.services, e.purpose, None
        elif isinstance(e, ConsentWithdrawn):
            party, services, purpose, until = e.withdrawn_by, e.services or (), "", None
        else:
            continue
        lines.append(ConsentLine(
            e.sequence, e.type, text(f"label.{e.type}"), spoken(party),
            spoken(services) if services else text("report.all_services"), purpose,
            spoken(until), oslo(e.occurred_at),
        ))
    return lines


def access_periods(events: list[CaseEvent], now: datetime) -> list[AccessPeriod]:
    """Who had access when: the access policy's grants, replayed after each event."""
    case: Case | None = None
    open_periods: dict[tuple[str, str, str, str], tuple[datetime, bool, datetime | None]] = {}
    done: list[AccessPeriod] = []
    for event in events:
        case = Case.project(case, [event])
        assert case is not None  # one event applied makes a case
        at = event.occurred_at
        current: dict[tuple[str, str, str, str], tuple[bool, datetime | None]] = {}
        for g in grants(case, at):
            if g.principal_kind == "role" or g.principal in OFFICE_ROLES or not g.may_read:
                continue
            principal = g.principal if g.unit is None else f"{g.principal} ({g.unit})"
            if g.service is not None and g.principal_kind == "person":
                principal = f"{g.principal} ({g.service})"
            key: tuple[str, str, str, str] = (
                g.principal_kind, principal, g.basis, str(g.consent_id or "")
            )
            current[key] = (g.may_write and g.writes is None, g.until)
        for key, (start, writes, until) in list(open_periods.items()):
            ended_by_time = until is not None and until < at
            if key not in current or ended_by_time:
                end, reason = (until, "expired") if ended_by_time else (at, event.type)
                done.append(_period(key, start, writes, end, reason))
                del open_periods[key]
        for key, (writes, until) in current.items():
            if key not in open_periods:
                open_periods[key] = (at, writes, until)
            else:
                start, _, _ = open_periods[key]
                open_periods[key] = (start, writes, until)
    for key, (start, writes, until) in open_periods.items():
        if until is not None and until < now:
            done.append(_period(key, start, writes, until, "expired"))
        else:
            done.append(_period(key, start, writes, None, ""))
    return sorted(done, key=lambda p: (p.start, p.principal))


def _period(
    key: tuple[str, str, str, str], start: datetime, writes: bool, end: datetime | None,
    reason: str,
) -> AccessPeriod:
    reason_text = ""
    if reason == "expired":
        reason_text = text("report.access_ended_expired")
    elif reason:
        reason_text = text(f"label.{reason}")
    return AccessPeriod(
        principal=key[1], basis=text(f"access.basis.{key[2]}"), writes=writes,
        start=oslo(start), end=None if end is None else oslo(end), end_reason=reason_text,
    )


def case_head(ledger: CaseLedger, case_id: UUID) -> str | None:
    """The case's own chain head (hex): the case hash of its last event."""
    db = Database(ledger.store)
    with db.transaction() as cursor:
        cursor.execute(
            f"SELECT case_hash FROM {db.table(CHAIN_TABLE)} WHERE stream_id = %s "
            "ORDER BY version DESC LIMIT 1",
            (db.stream_key(case_id),),
        )
        row = cursor.fetchone()
    return None if row is None else bytes(row[0]).hex()


_LABEL_KEYS = (
    "title", "subtitle", "due_at", "child", "case", "unit", "status", "level", "holder", "rulebook",
    "produced", "contents", "verification", "duties", "deadlines", "consents", "access",
    "timeline", "no_events", "rule", "basis", "due", "state", "met_by", "sequence",
    "occurred", "recorded", "who", "what", "details", "party", "services", "purpose",
    "valid_until", "principal", "grounds", "from", "to", "still", "writes", "reads_only",
    "corrected_by", "corrects", "meets", "meets_late", "deliveries", "delivers",
    "chain_ok", "chain_broken", "case_head", "ledger_head", "no_checkpoint",
    "checkpoint_ok", "checkpoint_failed", "checkpoint_details", "cancelled_by", "page",
    "verify_how", "no_consents", "open_status", "closed_status", "footer",
)


def report_labels() -> dict[str, str]:
    return {key: text(f"report.label.{key}") for key in _LABEL_KEYS}


def verification_sentence(report: CaseReport) -> str:
    """One sentence on the chain, naming the first break if there is one."""
    result = report.verification
    problem = result.first_problem
    if problem is None:
        return text("report.label.chain_ok", events=result.events, head=result.head.hex())
    return text(
        "report.label.chain_broken", problem=text(f"audit.problem.{problem.kind}"),
        position=problem.position, case=problem.case_id or "–", event=problem.event_id or "–",
    )


def checkpoint_sentence(report: CaseReport) -> str:
    check = report.checkpoint
    if check is None:
        return text("report.label.no_checkpoint")
    key = "checkpoint_ok" if check.ok else "checkpoint_failed"
    return text(
        f"report.label.{key}", events=check.checkpoint.events,
        created_at=when(datetime.fromisoformat(check.checkpoint.created_at)),
        head=check.checkpoint.head, key_id=check.checkpoint.key_id[:16],
    )


def deadline_outcome(report: CaseReport, line: Any) -> str:
    """By what and when a deadline was met, or that it was missed or cancelled."""
    if line.met_by_sequence is not None:
        entry = report.timeline.entry(line.met_by_sequence)
        return f"#{entry.sequence} {entry.label}, {when(line.met_at)}"
    if line.cancelled_by_sequence is not None:
        entry = report.timeline.entry(line.cancelled_by_sequence)
        why = text(f"timeline.cancel_reason.{line.cancelled_reason}")
        return text("report.label.cancelled_by", sequence=entry.sequence, label=entry.label,
                    why=why)
    return ""


# ---- HTML ------------------------------------------------------------------------------


def render_html(report: CaseReport) -> str:
    """The report as one self-contained HTML page (styles inline, nothing fetched)."""
    environment = Environment(autoescape=select_autoescape(default=True),
                              undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    source = resources.files("replay").joinpath("templates/report.html.j2").read_text("utf-8")
    template = environment.from_string(source)
    return template.render(
        r=report, L=report.labels, when=when, spoken=spoken,
        verification=verification_sentence(report), checkpoint=checkpoint_sentence(report),
        outcome=lambda line: deadline_outcome(report, line),
        status=text(f"report.label.{report.timeline.status}_status"),
    )


# ---- PDF -------------------------------------------------------------------------------


def render_pdf(report: CaseReport) -> bytes:
    """The report as a PDF (A4, reportlab), with the case and page number on every page."""
    # reportlab is loaded only when a PDF is made (and report_pdf imports this module).
    from replay.report_pdf import pdf_document  # noqa: PLC0415

    buffer = BytesIO()
    pdf_document(report, buffer)
    return buffer.getvalue()


def write_report(report: CaseReport, fmt: str, path: Path) -> None:
    """Write the report as `fmt` (html or pdf) to `path`."""
    if fmt == "pdf":
        path.write_bytes(render_pdf(report))
    else:
        path.write_text(render_html(report), encoding="utf-8")
