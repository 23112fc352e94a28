"""The tilsyn report of a seed-like § 12-sak: every deadline and duty is in it, as HTML and PDF."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pypdf import PdfReader

from ledger import messages
from ledger.application import CaseLedger
from ledger.policies.deadlines import deadlines
from replay.checkpoint import check_checkpoint, create_checkpoint
from replay.report import DUTIES, build_report, render_html, render_pdf
from tests.cast import HEALTH_NURSE, RECTOR, TEACHER, SetClock
from tests.stories import give_consent, involve, plan_tiltak, register_s12_undring


@pytest.fixture(autouse=True)
def bokmal_again() -> Any:
    yield
    messages.set_language("nb")


def seed_like_case(ledger: CaseLedger, clock: SetClock) -> UUID:
    """Elev-17 at Fossen skole, as seed 000 tells a § 12-sak: shared, samtale, consent,
    the helsestasjon joins, a § 12-4 plan, a correction, an evaluation and a decision."""
    case_id = register_s12_undring(ledger, clock)
    clock.advance(hours=3)
    ledger.share_with_leader(case_id, actor=TEACHER, leader=RECTOR.person, how="samtale")
    clock.advance(days=1)
    ledger.invite_to_samtale(case_id, actor=TEACHER, with_whom=["guardians", "child"],
                             planned_at=clock.now + timedelta(days=3))
    clock.advance(days=3)
    ledger.hold_samtale(case_id, actor=TEACHER, participants=["guardians", "child"],
                        summary="Foresatte kjenner seg igjen; eleven vil ha hjelp i friminuttene.",
                        child_view="Vil være med i fotballen.")
    clock.advance(hours=1)
    give_consent(ledger, case_id, "helsestasjon",
                 valid_until=(clock.now + timedelta(days=365)).date())
    involve(ledger, case_id, "helsestasjon")
    clock.advance(hours=1)
    tiltak = plan_tiltak(ledger, case_id, clock)
    planned = ledger.history(case_id)[-1]
    clock.advance(hours=1)
    ledger.correct_entry(case_id, actor=TEACHER, corrects=planned.event_id,
                         fields={"arena": "skolegården og gymsalen"}, why="Gymsalen manglet.")
    ledger.start_tiltak(case_id, actor=TEACHER, tiltak_id=tiltak)
    clock.advance(days=14)
    ledger.record_evaluation(case_id, actor=HEALTH_NURSE, tiltak_ids=[tiltak],
                             outcome="effect_not_there_yet", child_view="Bedre, men ikke hver dag.",
                             guardians_view="Ser bedring hjemme.")
    ledger.record_decision(case_id, actor=RECTOR, outcome="continue", decided_by=RECTOR.person,
                           child_view_weighed="Eleven vil fortsette.", reason="Tiltaket virker.")
    clock.advance(days=10)
    return case_id


def words(value: str) -> str:
    return re.sub(r"\s+", " ", value).strip()


def pdf_text(pdf: bytes) -> str:
    return words(" ".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages))


@pytest.mark.parametrize("language", ["nb", "en"])
def test_the_pdf_report_names_every_deadline_and_duty_of_the_case(
    ledger: CaseLedger, clock: SetClock, language: str
) -> None:
    messages.set_language(language)
    case_id = seed_like_case(ledger, clock)
    report = build_report(ledger, case_id)
    found = deadlines(ledger.history(case_id), ledger.rulebook, clock.now)
    assert {d.rule for d in found} >= {
        "share_with_leader", "s12_innkalling", "samtale_with_guardians", "decision_level0",
        "tiltak_evaluation", "consent_expiry", "stalled_case",
    }
    content = pdf_text(render_pdf(report))
    assert "Elev-17" in content and str(case_id) in content
    for deadline in found:
        assert words(messages.text(f"deadline.{deadline.rule}")) in content, deadline.rule
    for duty, _ in DUTIES:
        assert words(messages.text(f"report.duty.{duty}")) in content, duty
    for line in report.timeline.deadlines:
        assert line.state_label in content
        assert line.due_at.strftime("%Y-%m-%d %H:%M") in content
    for entry in report.timeline.entries:
        assert words(entry.label) in content
    assert words(messages.text("report.label.no_checkpoint")) in content


def test_the_html_report_stands_alone_and_shows_the_chain_and_the_checkpoint(
    ledger: CaseLedger, clock: SetClock
) -> None:
    case_id = seed_like_case(ledger, clock)
    key = Ed25519PrivateKey.generate()
    made, _ = create_checkpoint(ledger.store, key, clock.now)
    check = check_checkpoint(ledger.store, made, key.public_key())
    page = render_html(build_report(ledger, case_id, check))
    assert not re.search(r"(src|href)=\"(https?:|//)", page)  # nothing fetched from outside
    assert "@media print" in page and "@page" in page
    assert "Hash-kjeden er hel" in page and made.head in page
    assert "Rapporten hviler på kontrollpunktet" in page
    # The correction stands beside the plan it corrects, and both are there.
    assert "Rettet ved" in page and "Retter" in page
    for duty, _ in DUTIES:
        assert messages.text(f"report.duty.{duty}") in page


def test_who_had_access_follows_the_consent(ledger: CaseLedger, clock: SetClock) -> None:
    case_id = seed_like_case(ledger, clock)
    consent = next(e for e in ledger.history(case_id) if e.type == "ConsentGiven")
    clock.advance(days=1)
    ledger.withdraw_consent(case_id, actor=TEACHER, consent_id=consent.consent_id,
                            withdrawn_by="guardians")
    report = build_report(ledger, case_id)
    periods = [a for a in report.access if a.principal == "helsestasjon"]
    assert len(periods) == 1
    assert periods[0].start == consent.occurred_at
    assert periods[0].end is not None and periods[0].end_reason == "Samtykke trukket tilbake"
    own = [a for a in report.access if a.principal == "skole (Fossen skole)"]
    assert own and own[0].end is None and own[0].writes


def test_a_broken_chain_is_said_first_in_the_report(
    ledger: CaseLedger, clock: SetClock, tmp_path: Path
) -> None:
    from tests.test_tamper import Tamperer, build_two_cases

    case_id = seed_like_case(ledger, clock)
    _, other = build_two_cases(ledger, clock)
    sql = Tamperer(ledger)
    sql.flip_one_byte(sql.positions(other)[1])  # another case's bright spot, behind our back
    page = render_html(build_report(ledger, case_id))
    assert "Hash-kjeden er BRUTT ved posisjon" in page
