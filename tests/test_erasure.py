"""Stories of erasure: a closed case's key is destroyed when its retention period has ended."""

from __future__ import annotations

from uuid import UUID

import orjson
import pytest
from typer.testing import CliRunner

from ledger.application import CaseLedger
from ledger.cli import build_app
from ledger.errors import AccessRefused, InvalidInput, RuleViolation
from ledger.events import CaseErased, UndringRegistered
from ledger.events.personal import ERASED
from ledger.transfer import export_events
from replay.verify import verify
from tests.cast import COORDINATOR, RECTOR, TEACHER, TILSYN, SetClock
from tests.stories import register_undring

OBSERVATION = "Gråter ofte i garderoben etter gym og vil ikke dusje med de andre."
RETENTION_DAYS = 10 * 366  # the default rulebook keeps a closed case 10 years


def closed_case(ledger: CaseLedger, clock: SetClock, child_ref: str = "Elev-44") -> UUID:
    case_id = register_undring(ledger, clock, child_ref=child_ref, observations=OBSERVATION)
    clock.advance(days=1)
    ledger.close_case(case_id, actor=RECTOR, reason="Uroen er borte.",
                      closing_note="Eleven trives, sier foresatte.")
    return case_id


def test_an_erased_case_reads_as_slettet_and_everything_else_still_works(
    ledger: CaseLedger, clock: SetClock, database_url: str
) -> None:
    erased = closed_case(ledger, clock)
    kept = closed_case(ledger, clock, child_ref="Elev-45")
    before = ledger.history(erased)
    clock.advance(days=RETENTION_DAYS)

    event = ledger.erase_case(erased, actor=RECTOR, reason="Oppbevaringstiden er ute.")

    history = ledger.history(erased)
    assert [type(e) for e in history] == [*(type(e) for e in before), CaseErased]
    undring = history[0]
    assert isinstance(undring, UndringRegistered)
    assert (undring.child_ref, undring.observations) == (ERASED, ERASED)
    assert undring.noticed_at == before[0].noticed_at  # type: ignore[attr-defined]
    assert ledger.summary(erased).child_ref == ERASED
    assert ledger.summary(kept).child_ref == "Elev-45"
    assert ledger.history(kept)[0].observations == OBSERVATION  # type: ignore[attr-defined]
    erasure = ledger.erasure(erased)
    assert erasure is not None
    assert (erasure.erased_by, erasure.reason) == ("Rita Rektor", "Oppbevaringstiden er ute.")
    assert event.retention_years == 10
    assert verify(ledger.store).ok
    exported = b"\n".join(export_events(ledger, erased))
    assert OBSERVATION.encode() not in exported and b"Elev-44" not in exported
    with CaseLedger.open(database_url, reader=TILSYN) as again:  # another process has no key either
        assert again.history(erased)[0].child_ref == ERASED  # type: ignore[attr-defined]


def test_an_export_before_erasure_keeps_the_archive_copy(ledger: CaseLedger, clock: SetClock) -> None:
    case_id = closed_case(ledger, clock)
    archive = b"\n".join(export_events(ledger, case_id))
    clock.advance(days=RETENTION_DAYS)
    ledger.erase_case(case_id, actor=RECTOR, reason="Arkivert og oppbevaringstiden er ute.")
    assert OBSERVATION.encode() in archive


def test_a_case_is_not_erased_before_its_retention_period_ends(
    ledger: CaseLedger, clock: SetClock
) -> None:
    case_id = closed_case(ledger, clock)
    clock.advance(days=365)
    with pytest.raises(RuleViolation, match="retention_not_ended"):
        ledger.erase_case(case_id, actor=RECTOR, reason="For tidlig.")
    assert ledger.history(case_id)[0].observations == OBSERVATION  # type: ignore[attr-defined]
    assert ledger.erasure(case_id) is None


def test_an_open_case_is_not_erased(ledger: CaseLedger, clock: SetClock) -> None:
    case_id = register_undring(ledger, clock)
    clock.advance(days=RETENTION_DAYS)
    with pytest.raises(RuleViolation, match="erase_case_open"):
        ledger.erase_case(case_id, actor=RECTOR, reason="Åpen sak.")


def test_staff_and_the_coordinator_cannot_erase(ledger: CaseLedger, clock: SetClock) -> None:
    case_id = closed_case(ledger, clock)
    clock.advance(days=RETENTION_DAYS)
    with pytest.raises(RuleViolation, match="erase_not_allowed"):
        ledger.erase_case(case_id, actor=TEACHER, reason="Jeg vil slette.")
    with pytest.raises(AccessRefused):
        ledger.erase_case(case_id, actor=COORDINATOR, reason="Jeg vil slette.")
    assert ledger.erasure(case_id) is None


def test_nothing_more_is_recorded_on_an_erased_case(ledger: CaseLedger, clock: SetClock) -> None:
    case_id = closed_case(ledger, clock)
    clock.advance(days=RETENTION_DAYS)
    ledger.erase_case(case_id, actor=RECTOR, reason="Oppbevaringstiden er ute.")
    with pytest.raises(RuleViolation, match="case_erased"):
        ledger.reopen_case(case_id, actor=RECTOR, reason="Ny uro.")
    with pytest.raises(RuleViolation, match="case_erased"):
        ledger.erase_case(case_id, actor=RECTOR, reason="Igjen.")


def test_an_erasure_is_only_recorded_through_erase_case(ledger: CaseLedger, clock: SetClock) -> None:
    case_id = closed_case(ledger, clock)
    with pytest.raises(InvalidInput, match="erase_through_erase_case"):
        ledger.record("erase-case", case_id, actor=RECTOR, reason="Snarvei.")


def test_bti_case_erase_names_the_retention_rule_and_bti_verify_passes(
    ledger: CaseLedger, clock: SetClock, database_url: str
) -> None:
    case_id = closed_case(ledger, clock)
    ledger.close()
    runner = CliRunner()
    leader = ["--as-person", "Rita Rektor", "--as-service", "skole", "--as-unit", "Fossen skole"]
    # The CLI reads the machine's clock: the case closed in 2026 is kept until 2036.
    early = runner.invoke(build_app(), ["--db", database_url, "case", "erase", str(case_id),
                                        "--reason", "For tidlig.", *leader])
    assert early.exit_code == 1 and "[retention_not_ended]" in early.output
    assert "Traceback" not in early.output
    verified = runner.invoke(build_app(), ["--db", database_url, "verify"])
    assert verified.exit_code == 0, verified.output


def test_a_corrected_observation_is_erased_too_and_the_case_still_folds(
    ledger: CaseLedger, clock: SetClock
) -> None:
    case_id = closed_case(ledger, clock)
    undring = ledger.history(case_id)[0]
    ledger.correct_entry(case_id, actor=RECTOR, corrects=undring.event_id,
                         fields={"observations": "Rettet: gråter etter gym, to ganger."},
                         why="Feil i notatet.")
    clock.advance(days=RETENTION_DAYS)
    ledger.erase_case(case_id, actor=RECTOR, reason="Oppbevaringstiden er ute.")
    correction = ledger.history(case_id)[-2]
    assert correction.fields == {"observations": ERASED}  # type: ignore[attr-defined]
    assert correction.why == ERASED  # type: ignore[attr-defined]
    assert ledger.case(case_id).child_ref == ERASED


def test_case_show_says_when_by_whom_and_why_the_case_was_erased(
    ledger: CaseLedger, clock: SetClock
) -> None:
    if not ledger.store.env.get("SQLITE_DBNAME"):
        pytest.skip("the CLI story needs only one database")
    erased = closed_case(ledger, clock)
    clock.advance(days=RETENTION_DAYS)
    ledger.erase_case(erased, actor=RECTOR, reason="Oppbevaringstiden er ute.")
    reader = {"BTI_PERSON": TILSYN.person, "BTI_ROLE": TILSYN.role,
              "BTI_SERVICE": TILSYN.service, "BTI_UNIT": TILSYN.unit}
    url = f"sqlite:///{ledger.store.env['SQLITE_DBNAME']}"
    result = CliRunner().invoke(build_app(), ["--db", url, "case", "show", str(erased)], env=reader)
    assert result.exit_code == 0, result.output
    line = next(row for row in result.stdout.splitlines() if row.startswith("Slettet"))
    assert line.rstrip().endswith("av Rita Rektor: Oppbevaringstiden er ute.")
    shown = CliRunner().invoke(
        build_app(), ["--db", url, "case", "show", str(erased), "--json"], env=reader
    )
    assert orjson.loads(shown.stdout)["erased"]["reason"] == "Oppbevaringstiden er ute."
