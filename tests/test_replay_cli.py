"""The audit commands as tilsyn and the municipality type them: timeline, verify, keys,
checkpoints and reports, on a SQLite file and in PostgreSQL."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest
from typer.testing import CliRunner, Result

from ledger import messages
from ledger.application import CaseLedger, system_clock
from ledger.cli import build_app
from tests.cast import RECTOR, TEACHER, TILSYN, SetClock
from tests.stories import register_s12_undring
from tests.test_tamper import Tamperer


@pytest.fixture(autouse=True)
def bokmal_again() -> Iterator[None]:
    yield
    messages.set_language("nb")


def bti(url: str, *args: str) -> Result:
    return CliRunner().invoke(build_app(), ["--db", url, *args],
                              env={"BTI_DATABASE_URL": None, "BTI_LANGUAGE": None, **TILSYN_ENV})


TILSYN_ENV = {
    "BTI_PERSON": TILSYN.person, "BTI_ROLE": TILSYN.role, "BTI_SERVICE": TILSYN.service,
    "BTI_UNIT": TILSYN.unit,
}
"""Tilsyn reads the timeline and the report."""


@pytest.fixture
def case_on_disk(database_url: str) -> Iterator[tuple[str, UUID]]:
    """A ledger on the real clock with one § 12-sak that was shared and corrected."""
    with CaseLedger.create(database_url, actor=RECTOR, clock=system_clock, reader=TILSYN) as ledger:
        clock = SetClock(datetime.now(UTC) - timedelta(days=3))
        case_id = register_s12_undring(ledger, clock)
        ledger.share_with_leader(case_id, actor=TEACHER, leader=RECTOR.person, how="samtale",
                                 occurred_at=clock.now + timedelta(hours=2))
        registered = ledger.history(case_id)[0]
        ledger.correct_entry(case_id, actor=TEACHER, corrects=registered.event_id,
                             fields={"child_ref": "Elev-71"}, why="Byttet om sifrene.")
        yield database_url, case_id


def test_the_timeline_shows_events_corrections_and_deadlines(
    case_on_disk: tuple[str, UUID]
) -> None:
    url, case_id = case_on_disk
    shown = bti(url, "timeline", str(case_id))
    assert shown.exit_code == 0, shown.output
    for expected in ("Undring registrert", "Delt med nærmeste leder", "rettet ved #3",
                     "retter #1", "oppfyller fristen «Dele undringen med nærmeste leder»",
                     "Innkalle foresatte til samtale (§ 12-sak)"):
        assert expected in shown.output
    as_json = json.loads(bti(url, "timeline", str(case_id), "--json").output)
    assert [e["sequence"] for e in as_json["entries"]] == [1, 2, 3]
    assert as_json["entries"][0]["corrected_by"] == [3]
    assert as_json["child_ref"] == "Elev-71"  # the case as corrected; the original stays in #1
    assert "Elev-17" in as_json["entries"][0]["summary"]
    assert {d["rule"] for d in as_json["deadlines"]} >= {"share_with_leader", "s12_innkalling"}


def test_verify_names_the_first_tampered_event_and_exits_with_1(
    case_on_disk: tuple[str, UUID]
) -> None:
    url, case_id = case_on_disk
    whole = bti(url, "verify")
    assert whole.exit_code == 0 and "Kjeden er hel: 4 hendelser" in whole.output
    with CaseLedger.open(url, reader=TILSYN) as ledger:
        sql = Tamperer(ledger)
        position = sql.positions(case_id)[1]
        event_id = sql.event_id_at(position)
        sql.flip_one_byte(position)
    broken = bti(url, "verify")
    assert broken.exit_code == 1
    assert f"Kjeden er brutt ved posisjon {position}" in broken.output
    assert str(case_id) in broken.output and str(event_id) in broken.output
    as_json = json.loads(bti(url, "verify", "--json").output)
    assert as_json["problem"] == {
        "kind": "altered", "position": position, "case_id": str(case_id),
        "event_id": str(event_id), "version": 2, "found_event_id": str(event_id),
    }


def test_keys_and_a_checkpoint_that_tilsyn_checks_before_and_after_tampering(
    case_on_disk: tuple[str, UUID], tmp_path: Path
) -> None:
    url, case_id = case_on_disk
    private, public = tmp_path / "kommune.key", tmp_path / "kommune.pub"
    made = bti(url, "keys", "generate", "--private-key", str(private), "--public-key", str(public))
    assert made.exit_code == 0, made.output
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(public).st_mode) == 0o644
    again = bti(url, "keys", "generate", "--private-key", str(private), "--public-key",
                str(tmp_path / "other.pub"))
    assert again.exit_code == 1 and "finnes allerede" in again.output

    checkpoint = tmp_path / "kontrollpunkt.json"
    private.chmod(0o644)  # a signing key others can read is not used
    refused = bti(url, "checkpoint", "create", "--key", str(private), "--output", str(checkpoint))
    assert refused.exit_code == 1 and "chmod 600" in refused.output
    assert not checkpoint.exists()
    private.chmod(0o600)
    created = bti(url, "checkpoint", "create", "--key", str(private), "--output", str(checkpoint))
    assert created.exit_code == 0, created.output
    assert stat.S_IMODE(os.stat(checkpoint).st_mode) == 0o600
    assert json.loads(checkpoint.read_text())["events"] == 4

    holds = bti(url, "checkpoint", "verify", str(checkpoint), "--public-key", str(public))
    assert holds.exit_code == 0 and "Kontrollpunktet holder" in holds.output
    with CaseLedger.open(url, reader=TILSYN) as ledger:
        Tamperer(ledger).delete(Tamperer(ledger).positions(case_id)[-1], with_chain_row=True)
    fails = bti(url, "checkpoint", "verify", str(checkpoint), "--public-key", str(public))
    assert fails.exit_code == 1
    assert "færre hendelser enn kontrollpunktet" in fails.output


def test_the_report_commands_write_pdf_html_and_csv(
    case_on_disk: tuple[str, UUID], tmp_path: Path
) -> None:
    url, case_id = case_on_disk
    pdf, page = tmp_path / "sak.pdf", tmp_path / "sak.html"
    assert bti(url, "report", "case", str(case_id), "--format", "pdf", "--output",
               str(pdf)).exit_code == 0
    assert pdf.read_bytes().startswith(b"%PDF")
    assert bti(url, "--lang", "en", "report", "case", str(case_id), "--output",
               str(page)).exit_code == 0
    assert "Tilsyn report for one case" in page.read_text()
    table = bti(url, "report", "stats", "--from", "2020-01-01")
    assert table.exit_code == 0, table.output
    assert table.output.startswith("section,period,unit,key,measure,value")
    charts = tmp_path / "stats.html"
    assert bti(url, "report", "stats", "--format", "html", "--output", str(charts)).exit_code == 0
    assert "<svg" in charts.read_text()
