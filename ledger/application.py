"""The CaseLedger: commands in, events stored; the one entry point for CLI, import and API."""

from __future__ import annotations

import copy
import logging
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from pydantic import ValidationError

from ledger.access_log import AccessLog, AccessLogEntry, What
from ledger.case import Case
from ledger.errors import (
    AccessRefused,
    ConcurrencyConflict,
    InvalidInput,
    LedgerError,
    LedgerNotFound,
)
from ledger.events import (
    ACTIONS,
    LEDGER_SET_FIELDS,
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
    LedgerEvent,
    LevelChanged,
    MeetingHeld,
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
from ledger.heap import fewer_collections
from ledger.keys import Erasure
from ledger.messages import text
from ledger.policies.access import Grant, refusal
from ledger.policies.deadlines import Deadline
from ledger.policies.identity import IdentityNumberInvalid
from ledger.policies.rulebook import Rulebook, load_rulebook
from ledger.problems import problem_words
from ledger.projections.case_access import query_access
from ledger.projections.case_summary import CaseSummary, opened_summary, summary_as_of
from ledger.projections.open_deadlines import DeadlineQuery
from ledger.projections.reading import ReadModels
from ledger.projections.runner import TRACKING_TABLE
from ledger.projections.sql import Cursor, Database
from ledger.projections.stafett import StafettRow
from ledger.reminders.outbox import Outbox, OutboxRow
from ledger.store import EventStoreApplication, open_store, resolve_url

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
E = TypeVar("E", bound=CaseEvent)

MAX_ATTEMPTS = 30
"""How often a command is re-checked and retried when another writer got there first."""

FIRST_PAUSE = 0.002
LONGEST_PAUSE = 0.25
"""Seconds: after the n-th clash a writer waits at random up to FIRST_PAUSE × 2ⁿ, at most
LONGEST_PAUSE, so that a command gives up after some 6 s at most."""

WRITTEN_CASES = 512
"""Cases kept as this process last saved them, so the next command on one needs no replay."""

CHECKED_FROM = ("access", "case_summary")
"""The projections a read checked from the projections needs at the case's newest event."""


class _Undecided(Enum):
    """Why the projections did not decide a read; the aggregate decides it then."""

    BEHIND = "behind"
    """A projection has not reached the case's newest event."""
    NOT_BY_PROJECTION = "not_by_projection"
    """No grant that holds whatever the time lets the reader in (a consent, or a refusal)."""


@dataclass(frozen=True)
class _Allowed:
    """A read the projections allowed and the audit logged, in one transaction."""

    summary: str | None
    """The case's summary row as stored (sealed), when it was asked for."""


def pause_after_clash(attempt: int) -> None:
    """Wait a random while that doubles with each clash on a case ("full jitter")."""
    # A pause that grew by 2 ms a clash stayed shorter than a PostgreSQL save under load, so a
    # writer on a busy case could lose thirty times in a row to the same others; doubling
    # spreads four writers out within a few clashes.
    time.sleep(random.uniform(0, min(LONGEST_PAUSE, FIRST_PAUSE * 2**attempt)))


def system_clock() -> datetime:
    """The machine's clock, timezone-aware. Only the application reads it; never the domain."""
    return datetime.now(UTC)


def actor_from(value: Actor | dict[str, Any]) -> Actor:
    """An Actor from a model or a plain dict, with a clear error if it is not one."""
    if isinstance(value, Actor):
        return value
    try:
        return Actor.model_validate(value)
    except ValidationError as error:
        raise invalid_input(error, prefix="actor") from None


def invalid_input(error: ValidationError, prefix: str = "") -> InvalidInput:
    """The first problem pydantic found, as the ledger's own error in the catalogue's words."""
    first = error.errors()[0]
    where = ".".join(str(p) for p in (prefix, *first["loc"]) if p != "")
    return InvalidInput("invalid_field", field=where or "-", problem=problem_words(first))


def build_event(cls: type[E], values: dict[str, Any]) -> E:
    """Validate `values` as an event of type `cls`, or raise InvalidInput naming the field."""
    try:
        return cls.model_validate(values)
    except ValidationError as error:
        raise invalid_input(error) from None


class CaseLedger:
    """The ledger of BTI cases: record actions, read cases and their history.

    **Readers.** Every read has an actor, the *reader*, bound to the ledger: give
    `reader=` (and a `purpose=`) to `open`/`create`, or take a light view that shares the
    store with `ledger.reading_as(actor, purpose)`. Reading one case's personal data —
    `case`, `summary`, `history`, `access`, `export_case`, `access_log`, and the replay
    read paths through `admit` (timeline, report, as of a date) — is checked against the
    access policy (`policies.access.may_read`) at the ledger's clock: a refused read raises
    `AccessRefused` with the policy's code and returns nothing. Every such read, allowed or
    refused, is written to the append-only read audit first (`ledger.access_log`). With no
    reader bound, reads raise `LedgerError("reader_required")`. Reading the access log is
    itself logged (what=`access_log`). `case_for_daemon` is the one unchecked read, for the
    reminder daemon, which shows no one the case's personal data.

    Listings (`list_cases`, `deadlines`, `stafett`, `reminders`) show only the cases the
    reader may read (tilsyn: all); the BTI coordinator is refused them (`statistics_only`:
    no case identities) and reads the statistics instead (`replay.stats`, not checked per
    case). `reminders` with no reader bound lists every case's: the daemon's operator's view,
    which holds no personal data.

    **Writers.** Commands take `actor=`; left out, the bound reader acts (so a CLI session
    or a `reading_as` view acts as one person). Whether they may write is the aggregate's
    check, as before.
    """

    def __init__(
        self,
        store: EventStoreApplication,
        rulebook: Rulebook,
        clock: Clock,
        *,
        inline_projections: bool = True,
        reader: Actor | dict[str, Any] | None = None,
        purpose: str | None = None,
    ) -> None:
        self.store = store
        self.rulebook = rulebook
        self.clock = clock
        self.read_models = ReadModels(Database(store))
        self.inline_projections = inline_projections
        """False in a server set-up where `bti project --follow` keeps the projections."""
        self.reader: Actor | None = actor_from(reader) if reader is not None else None
        """Who reads through this ledger (None: every read of a case is refused)."""
        self.purpose = purpose
        """Why they read (written to the read audit with every entry)."""
        self.read_audit = AccessLog(self.read_models.db)
        self.read_audit.setup()
        db = self.read_models.db
        tracking = db.table(TRACKING_TABLE)
        head = f"SELECT MAX({db.position_column}) FROM {db.events_table}"
        self._live = list(self.read_models.runner.projections)
        self._sql_behind = (
            f"SELECT ({head}), (SELECT MIN(position) FROM {tracking} "
            f"WHERE name IN ({', '.join(['%s'] * len(self._live))}))"
        )
        # One statement, so the case's head, the positions and the row are one snapshot.
        # The newest version's position, by the stream's own index (a MAX() over the
        # position led PostgreSQL's planner down the position index, row by row).
        newest = (
            f"SELECT {db.position_column} FROM {db.events_table} WHERE originator_id = %s "
            "ORDER BY originator_version DESC LIMIT 1"
        )
        self._sql_read = (
            f"SELECT ({newest}), "
            f"(SELECT MIN(position) FROM {tracking} WHERE name IN (%s, %s)), "
            f"(SELECT summary FROM {db.table('bti_case_summary')} WHERE case_id = %s)"
        )
        self._access_table = db.table("bti_access")
        self._owns_store = True
        self._admitted: frozenset[UUID] = frozenset()
        self._written: OrderedDict[UUID, Case] = OrderedDict()
        """Cases as this process's last save left them (shared with `reading_as` views)."""
        self._written_lock = threading.Lock()

    # ---- opening and creating ----------------------------------------------------------

    @classmethod
    def open(
        cls,
        url: str | None = None,
        *,
        clock: Clock = system_clock,
        inline_projections: bool = True,
        reader: Actor | dict[str, Any] | None = None,
        purpose: str | None = None,
    ) -> CaseLedger:
        """Open the ledger at `url` (default ./bti.sqlite or $BTI_DATABASE_URL) for `reader`."""
        url = resolve_url(url)
        store = open_store(url)
        adopted = latest_rulebook(store)
        if adopted is None:
            store.close()
            raise LedgerNotFound("ledger_not_initialised", url=url)
        rulebook = Rulebook.model_validate(adopted.rulebook_document)
        try:
            return cls(store, rulebook, clock, inline_projections=inline_projections,
                       reader=reader, purpose=purpose)
        except BaseException:
            store.close()
            raise

    @classmethod
    def create(
        cls,
        url: str | None = None,
        *,
        rulebook: str = "default",
        actor: Actor | dict[str, Any],
        clock: Clock = system_clock,
        reader: Actor | dict[str, Any] | None = None,
        purpose: str | None = None,
    ) -> CaseLedger:
        """Create a new ledger at `url` that follows `rulebook` (a shipped name or a file)."""
        url = resolve_url(url)
        chosen = load_rulebook(rulebook)
        store = open_store(url)
        if latest_rulebook(store) is not None:
            store.close()
            raise LedgerError("ledger_exists", url=url)
        try:
            ledger = cls(store, chosen, clock, reader=reader, purpose=purpose)
        except BaseException:
            store.close()
            raise
        try:
            # As the ledger stream's first event: if another process created the ledger
            # since we looked, this save clashes instead of adopting a second rulebook.
            ledger._adopt(chosen, actor=actor, after=0)
        except ConcurrencyConflict:
            store.close()
            raise LedgerError("ledger_exists", url=url) from None
        return ledger

    def adopt_rulebook(self, rulebook: Rulebook, *, actor: Actor | dict[str, Any]) -> None:
        """Record that the ledger follows `rulebook` from now on (history is not rewritten)."""
        self._adopt(rulebook, actor=actor, after=len(list(self.store.events.get(LEDGER_ID))))

    def _adopt(self, rulebook: Rulebook, *, actor: Actor | dict[str, Any], after: int) -> None:
        # `after`: the ledger stream's version the caller saw; a newer one makes the save clash.
        now = self.clock()
        event = RulebookAdopted(
            event_id=uuid4(), sequence=after + 1, ledger_id=LEDGER_ID,
            actor=actor_from(actor), occurred_at=now, recorded_at=now,
            rulebook=rulebook.name, rulebook_version=rulebook.version,
            rulebook_digest=rulebook.digest,
            rulebook_document=rulebook.model_dump(mode="json"),
        )
        try:
            self._save(event)
        except IntegrityError:
            raise ConcurrencyConflict("concurrency_conflict", case=LEDGER_ID) from None
        self.rulebook = rulebook

    def reading_as(self, reader: Actor | dict[str, Any], purpose: str | None = None) -> CaseLedger:
        """A light view of this ledger for another reader (and purpose), sharing its store.

        Closing the view closes nothing: the ledger it came from owns the connections.
        """
        view = copy.copy(self)
        view.reader = actor_from(reader)
        view.purpose = purpose
        view._owns_store = False
        view._admitted = frozenset()
        return view

    def admit(self, case_id: UUID | str, what: What) -> CaseLedger:
        """Check and log one read (`what`) of a case; a view on which that case reads freely.

        For read paths built on the ledger (replay's timeline, report, as of a date): one
        read, one audit entry, whatever the path reads of the case underneath. Refused:
        `AccessRefused`, logged as refused.
        """
        case_uuid = self._checked_id(case_id, what)
        view = copy.copy(self)
        view._owns_store = False
        view._admitted = self._admitted | {case_uuid}
        return view

    def close(self) -> None:
        """Release the database connections (a `reading_as`/`admit` view has none of its own)."""
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> CaseLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- commands ----------------------------------------------------------------------

    def record(
        self,
        action: str | type[CaseEvent],
        case_id: UUID | str | None = None,
        *,
        actor: Actor | dict[str, Any] | None = None,
        occurred_at: datetime | None = None,
        event_id: UUID | None = None,
        **fields: Any,
    ) -> CaseEvent:
        """Record one action on a case; returns the stored event. Raises LedgerError.

        Without `actor`, the bound reader acts; with neither, the actor is missing.
        """
        if actor is None:
            if self.reader is None:
                raise InvalidInput("invalid_field", field="actor", problem=text("problem.missing"))
            actor = self.reader
        cls = self._event_class(action)
        if case_id is None:
            if cls is not UndringRegistered:
                raise InvalidInput("invalid_field", field="case_id", problem=text("problem.missing"))
            case_id = uuid4()
        case_uuid = parse_uuid(case_id, "case_id")
        who = actor_from(actor)
        fields = {k: v for k, v in fields.items() if v is not None}
        given = set(fields) & LEDGER_SET_FIELDS
        if given:
            raise InvalidInput("ledger_sets_field", field=", ".join(sorted(given)))
        self._fill_ids(cls, fields)
        the_event_id = event_id or uuid4()
        for attempt in range(MAX_ATTEMPTS):
            case = self._take_written(case_uuid) or self._load(case_uuid)
            now = self.clock()
            event = build_event(cls, {
                **fields,
                "event_id": the_event_id,
                "case_id": case_uuid,
                "sequence": case.version + 1,
                "actor": who,
                "occurred_at": occurred_at or now,
                "recorded_at": now,
            })
            case.record(event, self.rulebook, now)
            try:
                self._save(case)
            except IntegrityError:
                # Another writer stored an event on this case first: re-check against the
                # new state, after a pause that spreads the writers out.
                pause_after_clash(attempt)
                continue
            self._keep_written(case)
            return event
        raise ConcurrencyConflict("concurrency_conflict", case=case_uuid)

    def save_cases(self, cases: Sequence[Case]) -> None:
        """Store the events `Case.record` put on `cases` in one transaction, all or none.

        For the reminder daemon, which records on many cases at once. The events were checked
        by `Case.record`; a case another writer stored an event on since it was loaded makes
        the whole save clash (`ConcurrencyConflict`), and the cases must then be read again.
        """
        try:
            self._save(*cases)
        except BaseException as error:
            # A case kept from an earlier save may be one of these, its state now ahead of
            # the store: forgotten, so that the next command reads it again.
            for case in cases:
                self._take_written(case.id)
            if not isinstance(error, IntegrityError):
                raise
            shown = ", ".join(str(case.id) for case in cases[:3])
            raise ConcurrencyConflict(
                "concurrency_conflict", case=shown + (" …" if len(cases) > 3 else "")
            ) from None
        for case in cases:
            self._keep_written(case)

    def _save(self, *saved: Case | RulebookAdopted) -> None:
        """Store the events of `saved` and bring the projections past them: in the same
        transaction when they stand right before them (one commit), else after it (`project`).

        A new case's key, and its identity lookup, go in the same transaction as the events
        they seal: a new case is one commit too, and no key is ever stored without them.
        """
        refresh = self.read_models.runner.within_save() if self.inline_projections else None
        hooks: dict[str, Any] = {} if refresh is None else {"within": refresh}
        with self.store.case_keys.staging() as staged:
            try:
                self.store.save(*saved, before=staged.store, **hooks)
            except BaseException:
                staged.abandon()
                if refresh is not None:
                    refresh.abandon()
                raise
            staged.kept()
        if refresh is not None and not refresh.applied:
            self.project()

    def _take_written(self, case_id: UUID) -> Case | None:
        """The case as this process last saved it, taken out so no other command shares it.

        It may be behind the store (another process wrote since): then the save clashes
        on the version, as any stale load would, and the command is re-checked on a replay.
        """
        with self._written_lock:
            return self._written.pop(case_id, None)

    def _keep_written(self, case: Case) -> None:
        """Keep a case just saved: its state is what a replay of its stored events gives."""
        with self._written_lock:
            self._written[case.id] = case
            while len(self._written) > WRITTEN_CASES:
                self._written.popitem(last=False)

    @staticmethod
    def _event_class(action: str | type[CaseEvent]) -> type[CaseEvent]:
        cls = action if isinstance(action, type) else ACTIONS.get(action)
        if cls is None or not issubclass(cls, CaseEvent):
            raise InvalidInput("unknown_action", action=action, known=", ".join(ACTIONS))
        if cls is CaseErased:  # it destroys the case's key too: only `erase_case` records it
            raise InvalidInput("erase_through_erase_case")
        return cls

    @staticmethod
    def _fill_ids(kind: type[CaseEvent], fields: dict[str, Any]) -> None:
        # New consents and tiltak get an id of their own unless the caller chose one.
        if kind is ConsentGiven:
            fields.setdefault("consent_id", uuid4())
        if kind is TiltakPlanned:
            fields.setdefault("tiltak_id", uuid4())

    def _load(self, case_id: UUID) -> Case:
        try:
            case: Case = self.store.repository.get(case_id, projector_func=Case.project)
        except AggregateNotFoundError:
            return Case(id=case_id)
        return case

    # The actions as methods named from the vocabulary, for Python callers and a later API.
    def register_undring(self, **kw: Any) -> CaseEvent:
        """Register an undring; a new case begins. Returns the event (its case_id is new)."""
        return self.record(UndringRegistered, kw.pop("case_id", None), **kw)

    def share_with_leader(self, case_id: UUID | str, **kw: Any) -> CaseEvent:
        """The undring was shared with the nearest leader "ved første anledning" (000 N0 T2)."""
        return self.record(SharedWithLeader, case_id, **kw)

    def flag_track(self, case_id: UUID | str, **kw: Any) -> CaseEvent:
        """A § 12 / § 42 track or a violence suspicion was set after registration (000 N0 T1)."""
        return self.record(TrackFlagged, case_id, **kw)

    def clear_flag(self, case_id: UUID | str, **kw: Any) -> CaseEvent:
        """A track or the violence suspicion was lifted, with why (e.g. barnevern concluded)."""
        return self.record(FlagCleared, case_id, **kw)

    def record_investigation(self, case_id: UUID | str, **kw: Any) -> CaseEvent:
        """The school or barnehage looked into the matter "snarest" (§ 12-4, § 42) and found this."""
        return self.record(InvestigationRecorded, case_id, **kw)

    def notify_school_owner(self, case_id: UUID | str, **kw: Any) -> CaseEvent:
        """The rektor told the municipality of a serious § 12 case (000 § 12-4)."""
        return self.record(SchoolOwnerNotified, case_id, **kw)

    def report_to_barnevern(self, case_id: UUID | str, **kw: Any) -> CaseEvent:
        """A report (bekymringsmelding) went to barnevern or the police; never needs consent (004)."""
        return self.record(ReportedToBarnevern, case_id, **kw)

    def hold_anonymous_consultation(self, case_id: UUID | str, **kw: Any) -> CaseEvent:
        """An NN-drøfting with another service without naming the child: needs no consent."""
        return self.record(AnonymousConsultationHeld, case_id, **kw)

    def invite_to_samtale(self, case_id: UUID | str, **kw: Any) -> CaseEvent:
        """The innkalling to den nødvendige samtalen was sent (000 N0 T3)."""
        return self.record(SamtaleInvited, case_id, **kw)

    def hold_samtale(self, case_id: UUID | str, **kw: Any) -> CaseEvent:
        """Den nødvendige samtalen was held; the child has the right, not the duty, to give its view."""
        return self.record(SamtaleHeld, case_id, **kw)

    def give_consent(self, case_id: UUID | str, **kw: Any) -> CaseEvent:
        """Guardians (or a youth old enough) consented to share with named services (000, 002)."""
        return self.record(ConsentGiven, case_id, **kw)

    def refuse_consent(self, case_id: UUID | str, **kw: Any) -> CaseEvent:
        """Consent was asked for and refused; a refusal is recorded too."""
        return self.record(ConsentRefused, case_id, **kw)

    def withdraw_consent(self, case_id: UUID | str, **kw: Any) -> CaseEvent:
        """A consent was withdrawn, wholly or for some of its services; access ends at once."""
        return self.record(ConsentWithdrawn, case_id, **kw)

    def involve_service(self, case_id: UUID | str, **kw: Any) -> CaseEvent:
        """Another service joined the case, resting on a consent (001 N2 1; 002)."""
        return self.record(ServiceInvolved, case_id, **kw)

    def release_service(self, case_id: UUID | str, **kw: Any) -> CaseEvent:
        """A service left the case."""
        return self.record(ServiceReleased, case_id, **kw)

    def assign_stafettholder(self, case_id: UUID | str, **kw: Any) -> CaseEvent:
        """A person was made stafettholder of the case."""
        return self.record(StafettholderAssigned, case_id, **kw)

    def propose_handover(self, case_id: UUID | str, **kw: Any) -> CaseEvent:
        """The holder or the leader proposed handing the stafett to another person (rule 9)."""
        return self.record(StafettHandoverProposed, case_id, **kw)

    def accept_handover(self, case_id: UUID | str, **kw: Any) -> CaseEvent:
        """The proposed person accepted the stafett; from now on they hold it."""
        return self.record(StafettHandoverAccepted, case_id, **kw)

    def decline_handover(self, case_id: UUID | str, **kw: Any) -> CaseEvent:
        """The proposed person declined; the old holder keeps the stafett."""
        return self.record(StafettHandoverDeclined, case_id, **kw)

    def hold_meeting(self, case_id: UUID | str, **kw: Any) -> CaseEvent:
        """A meeting where several services met about the case (000–003)."""
        return self.record(MeetingHeld, case_id, **kw)

    def plan_tiltak(self, case_id: UUID | str, **kw: Any) -> CaseEvent:
        """A tiltak was planned; in a § 12-sak with all five elements of § 12-4 (000; 001 N1 2)."""
        return self.record(TiltakPlanned, case_id, **kw)

    def start_tiltak(self, case_id: UUID | str, **kw: Any) -> CaseEvent:
        """A planned tiltak began (001 N1 3)."""
        return self.record(TiltakStarted, case_id, **kw)

    def complete_tiltak(self, case_id: UUID | str, **kw: Any) -> CaseEvent:
        """A tiltak was carried through."""
        return self.record(TiltakCompleted, case_id, **kw)

    def cancel_tiltak(self, case_id: UUID | str, **kw: Any) -> CaseEvent:
        """A tiltak was stopped before it was carried through."""
        return self.record(TiltakCancelled, case_id, **kw)

    def hold_child_conversation(self, case_id: UUID | str, **kw: Any) -> CaseEvent:
        """A trusted adult talked with the child about what happens next (001 N3 3)."""
        return self.record(ChildConversationHeld, case_id, **kw)

    def record_evaluation(self, case_id: UUID | str, **kw: Any) -> CaseEvent:
        """Tiltak were evaluated: did they work, and what do the child and guardians say (rule 8)."""
        return self.record(EvaluationRecorded, case_id, **kw)

    def record_decision(self, case_id: UUID | str, **kw: Any) -> CaseEvent:
        """A decision on the case, with the child's view weighed (000 N0 T4; 001 N1 5; 004)."""
        return self.record(DecisionRecorded, case_id, **kw)

    def change_level(self, case_id: UUID | str, **kw: Any) -> CaseEvent:
        """The case moved from one level (nivå 0–3) to another, following a decision."""
        return self.record(LevelChanged, case_id, **kw)

    def log_bright_spot(self, case_id: UUID | str, **kw: Any) -> CaseEvent:
        """A lysglimt: a positive observation worth logging."""
        return self.record(BrightSpotLogged, case_id, **kw)

    def close_case(self, case_id: UUID | str, **kw: Any) -> CaseEvent:
        """The case ended, with an avslutningsnotat (001 N0 5; 002)."""
        return self.record(CaseClosed, case_id, **kw)

    def reopen_case(self, case_id: UUID | str, **kw: Any) -> CaseEvent:
        """A closed case was opened again; the nivå-0 decision clock starts again."""
        return self.record(CaseReopened, case_id, **kw)

    def correct_entry(self, case_id: UUID | str, **kw: Any) -> CaseEvent:
        """A mistake in an earlier event is corrected; the original stays in the history (rule 10)."""
        return self.record(EntryCorrected, case_id, **kw)

    def record_deviation(self, case_id: UUID | str, **kw: Any) -> CaseEvent:
        """A leader records that a duty was not followed, so tilsyn sees it (avvik)."""
        return self.record(DeviationRecorded, case_id, **kw)

    def issue_reminder(self, case_id: UUID | str, **kw: Any) -> CaseEvent:
        """A reminder of a deadline at one stage; its event_id is derived from (deadline, stage)."""
        return self.record(ReminderIssued, case_id, **kw)

    # ---- queries -----------------------------------------------------------------------

    def case(self, case_id: UUID | str) -> Case:
        """The case's folded state (raises `case_unknown` if there is none); a checked read."""
        return self._checked(case_id, "show")

    def case_for_daemon(self, case_id: UUID | str) -> Case:
        """The case's folded state for the reminder daemon, which reads no case for a person
        (the access policy's `reminder_daemon`): not checked against a reader, not logged."""
        case = self._load(parse_uuid(case_id, "case_id"))
        if case.status == "new":
            raise LedgerError("case_unknown", case=case_id)
        return case

    def _checked(self, case_id: UUID | str, what: What) -> Case:
        """The case, if the reader may read it now; the read is logged either way.

        For the reads that need the folded case anyway: the policy judges it directly.
        """
        if self.reader is None:
            raise LedgerError("reader_required")
        case = self.case_for_daemon(case_id)
        if case.id in self._admitted:
            return case  # logged once when admitted
        now = self.clock()
        code = refusal(case, self.reader, now, write=False)
        self.read_audit.append(
            at=now, case_id=case.id, reader=self.reader, what=what, purpose=self.purpose,
            outcome="allowed" if code is None else "refused", code=code,
        )
        if code is not None:
            raise AccessRefused(code, case=case.id)
        return case

    def _checked_id(self, case_id: UUID | str, what: What) -> UUID:
        """The case's id, if the reader may read it now; the read is logged either way.

        For the reads that need only the id: decided from the access projection when it can
        be (`_read_by_projection`), else by the policy on the folded case (`_checked`).
        """
        if self.reader is None:
            raise LedgerError("reader_required")
        case_uuid = parse_uuid(case_id, "case_id")
        if case_uuid in self._admitted:
            return case_uuid
        if self._read_by_projection(case_uuid, what, self.reader) is None:
            self._checked(case_uuid, what)
        return case_uuid

    def _read_by_projection(self, case_id: UUID, what: What, reader: Actor) -> _Allowed | None:
        """Allow and log a read in one transaction from the projections, if they decide it.

        They decide it only when the access and summary projections have reached the case's
        newest event and one of its grants that holds whatever the time (own service,
        leader, a holder of the own service, tilsyn: no consent, no end) applies to the
        reader: such a grant is the policy's own `grants(case, at)` row for every `at`, so
        `Grant.applies_to` over it is the policy's `may_read`. Anything else (a consent,
        which depends on the moment; a refusal, which must name its reason) is left to the
        policy on the folded case (None). Projections behind are caught up once first.
        """
        self.read_models.runner.setup()
        for attempt in range(2):
            with self.read_models.db.transaction() as cursor:
                found = self._decide_in(cursor, case_id, what, reader)
            if found is _Undecided.BEHIND and attempt == 0 and self.inline_projections:
                self._project_if_behind()
                continue
            return found if isinstance(found, _Allowed) else None
        return None

    def _decide_in(
        self, cursor: Cursor, case_id: UUID, what: What, reader: Actor
    ) -> _Allowed | _Undecided:
        # Appended in the transaction that reads, so the entry and the row returned are
        # one snapshot, committed (SQLite: fsync'ed) before anything is returned.
        self.read_audit.lock(cursor)
        db = self.read_models.db
        cursor.execute(self._sql_read, (db.stream_key(case_id), *CHECKED_FROM, str(case_id)))
        row = cursor.fetchone()
        if row is None or row[0] is None:
            return _Undecided.NOT_BY_PROJECTION  # no such case: the policy path says so
        if row[1] is None or int(row[1]) < int(row[0]):
            return _Undecided.BEHIND
        now = self.clock()
        timeless = any(
            g.may_read and g.consent_id is None and g.until is None and g.applies_to(reader)
            for g in query_access(cursor, self._access_table, case_id, now)
        )
        if not timeless:
            return _Undecided.NOT_BY_PROJECTION
        sealer = self.store.sealer
        if sealer is not None:
            # The key that opens the summary, read in this snapshot, not in a transaction
            # of its own afterwards (PostgreSQL, 100k events: case show p50 2.5 -> 2.2 ms).
            sealer.keys.load([case_id], cursor.raw)
        self.read_audit.append_in(
            cursor, at=now, case_id=case_id, reader=reader, what=what, purpose=self.purpose,
            outcome="allowed",
        )
        return _Allowed(summary=row[2])

    def _lister(self) -> Actor:
        """The reader a listing is filtered for; the coordinator sees no case identities."""
        if self.reader is None:
            raise LedgerError("reader_required")
        if self.reader.role == "coordinator":
            raise AccessRefused("statistics_only")
        return self.reader

    def project(self) -> None:
        """Bring the projections up to date with what was just stored.

        The events are already safe when this runs; if a projection fails, the command has
        still succeeded, and the next command, query or `bti project` catches up.
        """
        if not self.inline_projections:
            return
        try:
            self.read_models.catch_up()
        except Exception:
            log.exception("projections could not catch up; they will on the next try")

    def _project_if_behind(self) -> None:
        """`project`, for a query: one read when the projections are at the log's head.

        A catch-up that finds nothing still locks the positions by updating them (on
        PostgreSQL a row write and a commit: ~5 ms here, against ~0.6 ms for asking).
        """
        if not self.inline_projections:
            return
        self.read_models.runner.setup()
        with self.read_models.db.transaction() as cursor:
            cursor.execute(self._sql_behind, self._live)
            row = cursor.fetchone()
        if row is not None and row[0] is not None and row[1] is not None and row[1] >= row[0]:
            return
        self.project()

    def summary(self, case_id: UUID | str) -> CaseSummary:
        """The case as a user sees it now, from the case summary projection."""
        if self.reader is None:
            raise LedgerError("reader_required")
        case_uuid = parse_uuid(case_id, "case_id")
        if case_uuid not in self._admitted:
            allowed = self._read_by_projection(case_uuid, "show", self.reader)
            if allowed is not None and allowed.summary is not None:
                now = self.clock()
                stored = CaseSummary.model_validate_json(allowed.summary)
                return summary_as_of(opened_summary(stored, self.store.sealer), now)
            if allowed is None:
                self._checked(case_uuid, "show")
        self._project_if_behind()
        found = self.read_models.summary(case_uuid, self.clock())
        if found is None:
            raise LedgerError("case_unknown", case=case_id)
        return found

    def history(self, case_id: UUID | str) -> list[CaseEvent]:
        """The case's events in the order they were recorded; a checked read."""
        return self._checked(case_id, "history").events

    def export_case(self, case_id: UUID | str) -> Iterator[bytes]:
        """The case's events in the public JSON shape, one line each; a checked read.

        Checked and logged when called, before the first line is read.
        """
        from ledger.transfer import export_events  # noqa: PLC0415 (transfer imports this module)

        return export_events(self, case_id=self._checked_id(case_id, "export"))

    def export_all(self) -> Iterator[bytes]:
        """Every event of the ledger in the public JSON shape (an archive, or a move).

        It reads every case's personal data, so every case is a checked read, logged, before
        the first line is written: a reader who may not read one of them gets nothing.
        """
        from ledger.transfer import export_events  # noqa: PLC0415 (transfer imports this module)

        self._lister()
        self._project_if_behind()
        for summary in self.read_models.cases(self.clock()):
            self._checked_id(summary.case_id, "export")
        return export_events(self)

    def access_log(self, case_id: UUID | str) -> list[AccessLogEntry]:
        """Who read the case, when, what and why (art. 15); a checked read, logged itself
        (what=`access_log`), so the log shows who looked at it."""
        return self.read_audit.entries(self._checked_id(case_id, "access_log"))

    def all_events(self, batch: int = 1000) -> Iterator[Event]:
        """Every event of the ledger in the order it was recorded, read in batches."""
        # Read straight from the table (the library's notification objects cost a fifth of
        # a replay), one short read transaction per batch.
        db, after = self.read_models.db, 0
        with fewer_collections():  # a replay makes a model per event
            while True:
                with db.transaction() as cursor:
                    rows = db.select_notifications(cursor, after, batch)
                if not rows:
                    return
                yield from self.store.decode_stored(
                    [(s, topic, state) for _, s, _, topic, state in rows]
                )
                after = rows[-1][0]

    def list_cases(self, unit: str | None = None, status: str | None = None) -> list[CaseSummary]:
        """The cases the reader may read, with level and holder, by unit and status, newest first."""
        reader = self._lister()
        self._project_if_behind()
        return self.read_models.cases(self.clock(), unit=unit, status=status, reader=reader)

    def reminders(
        self, case_id: UUID | str | None = None, *, undelivered: bool = False
    ) -> list[OutboxRow]:
        """The reminders the daemon issued and how their delivery stands, one row per channel:
        of one case (a checked, logged read), or of every case the reader may read.

        With no reader bound, every case's: the view of the person who runs the daemon,
        which holds no personal data (duties, due times, the employees reminded).
        """
        outbox = Outbox(self.read_models.db)
        case_uuid = parse_uuid(case_id, "case_id") if case_id is not None else None
        if self.reader is None:
            if case_uuid is not None:
                self.case_for_daemon(case_uuid)  # an unknown case is refused, not listed
            return outbox.rows(case_uuid, undelivered=undelivered)
        if case_uuid is not None:
            self._checked(case_uuid, "reminders")
            return outbox.rows(case_uuid, undelivered=undelivered)
        reader = self._lister()
        self._project_if_behind()  # the access rows decide which cases are listed
        only = self.read_models.readable(reader, self.clock(), outbox.table)
        return outbox.rows(undelivered=undelivered, only=only)

    def deadlines(
        self,
        *,
        due_within: timedelta | None = None,
        unit: str | None = None,
        holder: str | None = None,
        case_id: UUID | str | None = None,
        overdue: bool = False,
        include_closed: bool = False,
    ) -> list[Deadline]:
        """Deadlines of the cases the reader may read: open and overdue unless `include_closed`."""
        reader = self._lister()
        self._project_if_behind()
        now = self.clock()
        query = DeadlineQuery(
            due_before=now + due_within if due_within is not None else None,
            unit=unit, holder=holder, overdue=overdue, include_closed=include_closed,
            case_id=parse_uuid(case_id, "case_id") if case_id is not None else None,
        )
        return self.read_models.deadlines(query, now, reader=reader)

    def access(self, case_id: UUID | str) -> list[Grant]:
        """Which services and persons may read or write the case now, and why; a checked read."""
        case_uuid = self._checked_id(case_id, "access")
        self._project_if_behind()
        return self.read_models.access(case_uuid, self.clock())

    def stafett(self, person: str | None = None) -> list[StafettRow]:
        """Open cases a person holds or is asked to take over (every open case if no person),
        of those the reader may read."""
        reader = self._lister()
        self._project_if_behind()
        return self.read_models.stafett(person, reader=reader, now=self.clock())

    # ---- erasure and the child's identity number (docs/privacy.md) ----------------------

    def erase_case(
        self, case_id: UUID | str, *, reason: str, actor: Actor | dict[str, Any] | None = None
    ) -> CaseErased:
        """Erase a closed case's personal data once the rulebook's retention period has ended.

        Records `CaseErased` (the rules: a closed case, its unit's leader, `retention_years`
        after closing), then destroys the case's key: its events stay in the chain and still
        verify, their personal fields read "[slettet]" from then on. Export the case first
        (`export_events(ledger, case_id)`) if the archive is to keep it.
        """
        if actor is None:
            if self.reader is None:
                raise InvalidInput("invalid_field", field="actor", problem=text("problem.missing"))
            actor = self.reader
        who = actor_from(actor)
        case_uuid = parse_uuid(case_id, "case_id")
        self._take_written(case_uuid)  # its personal data is not kept past the erasure
        for attempt in range(MAX_ATTEMPTS):
            case = self._load(case_uuid)
            if case.status == "new":
                raise LedgerError("case_unknown", case=case_uuid)
            recorded = next((e for e in case.events if isinstance(e, CaseErased)), None)
            if recorded is not None and self.store.case_keys.erasure(case_uuid) is None:
                # Stored before a crash took the key's destruction with it: finish that now.
                self._destroy_key(recorded)
                return recorded
            now = self.clock()
            event = build_event(CaseErased, {
                "event_id": uuid4(), "case_id": case_uuid, "sequence": case.version + 1,
                "actor": who, "occurred_at": now, "recorded_at": now, "reason": reason,
                "closed_at": case.closed_at or now,
                "retention_years": self.rulebook.retention_years.value,
            })
            case.record(event, self.rulebook, now)
            try:
                self._save(case)  # the rows are written while the key still seals them
            except IntegrityError:
                pause_after_clash(attempt)
                continue
            self._destroy_key(event)
            return event
        raise ConcurrencyConflict("concurrency_conflict", case=case_uuid)

    def _destroy_key(self, event: CaseErased) -> None:
        self.store.case_keys.destroy(
            event.case_id, at=event.recorded_at, by=event.actor.person, reason=event.reason
        )

    def erasure(self, case_id: UUID | str) -> Erasure | None:
        """When, by whom and why the case was erased (None if it was not)."""
        return self.store.case_keys.erasure(parse_uuid(case_id, "case_id"))

    def find_case_by_national_id(self, number: str) -> list[UUID]:
        """The cases of the child with this fødselsnummer or D-nummer (by its keyed hash)
        that the reader may read.

        That a child has a case is itself about the child: the search is a checked read of
        each case found, written to its access log ("find", allowed or refused), and a case
        the reader may not read is left out. Only ids: what a case holds is read through the
        checked reads. An erased case is not found any more.
        """
        if self.reader is None:
            raise LedgerError("reader_required")
        try:
            found = self.store.sealer.identity_lookup_key(number)
        except IdentityNumberInvalid as error:
            raise InvalidInput(
                "national_id_invalid", problem=text(f"national_id.{error.reason}")
            ) from None
        readable = []
        for case_id in self.store.case_keys.cases_with_identity(found):
            try:
                readable.append(self._checked_id(case_id, "find"))
            except AccessRefused:
                continue  # logged as refused: tilsyn sees who looked
        return readable




def parse_uuid(value: UUID | str, field: str) -> UUID:
    """A UUID from text, or a clear error naming the field."""
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        raise InvalidInput(
            "invalid_field", field=field, problem=text("problem.uuid_parsing")
        ) from None


def latest_rulebook(store: EventStoreApplication) -> RulebookAdopted | None:
    """The rulebook the ledger follows now, from its own stream (None: not initialised)."""
    events = list(store.events.get(LEDGER_ID, desc=True, limit=1))
    if not events:
        return None
    event = events[0]
    return event if isinstance(event, RulebookAdopted) else None


__all__ = ["LEDGER_ID", "CaseLedger", "LedgerEvent", "system_clock"]
