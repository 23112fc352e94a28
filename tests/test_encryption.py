"""Stories of encryption at rest: the database holds no clear text of a child's personal data."""

from __future__ import annotations

import os
import stat
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import psycopg
import pytest
from typer.testing import CliRunner

from ledger.application import CaseLedger
from ledger.cli import build_app
from ledger.errors import LedgerError
from ledger.keys import MASTER_KEY_ENV, MASTER_KEY_FILE_ENV, load_master_key, write_master_key
from ledger.policies.identity import with_check_digits
from ledger.transfer import export_events
from replay.verify import verify
from tests.cast import RECTOR, TEACHER, TILSYN, SetClock
from tests.conftest import POSTGRES_URL

CHILD = "Elev-Hemmelig-77"
OBSERVATION = "Forteller at pappa slår når han er full, og at lillesøster gråter om natta."
SUMMARY = "Mor fortalte om samlivsbrudd og at faren har flyttet til Hamar."
TILTAK = "Fast voksen i friminuttene ved sandkassa med Elev-Hemmelig-77"
NATIONAL_ID = with_check_digits("150514" + "490")
SECRETS = (CHILD, OBSERVATION, SUMMARY, TILTAK, NATIONAL_ID or "")


def record_a_case_with_secrets(ledger: CaseLedger, clock: SetClock) -> None:
    assert NATIONAL_ID is not None
    case_id = ledger.register_undring(
        actor=TEACHER, child_ref=CHILD, child_birth_date="2014-05-15", unit=TEACHER.unit,
        service=TEACHER.service, noticed_at=clock.now - timedelta(hours=1),
        observations=OBSERVATION, national_id=NATIONAL_ID,
    ).case_id
    clock.advance(hours=2)
    ledger.invite_to_samtale(case_id, actor=TEACHER, with_whom=["guardians"],
                             planned_at=clock.now + timedelta(days=1))
    clock.advance(days=1)
    ledger.hold_samtale(case_id, actor=TEACHER, participants=["guardians"], summary=SUMMARY)
    ledger.plan_tiltak(case_id, actor=RECTOR, description=TILTAK, goal="Trygg i friminuttene.")
    assert ledger.summary(case_id).child_ref == CHILD  # the reader sees it opened


def found_in_sqlite(url: str) -> list[str]:
    path = Path(urlparse(url).path[1:])
    raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    return [s for s in SECRETS if s.encode() in raw]


def found_in_postgres(url: str) -> list[str]:
    schema = parse_qs(urlparse(url).query)["schema"][0]
    found: set[str] = set()
    with psycopg.connect(POSTGRES_URL) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
        )]
        assert {"bti_events", "bti_chain", "bti_case_keys", "bti_case_summary",
                "bti_stafett", "bti_identity_index"} <= set(tables)
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{schema}"."{table}"'):
                for value in row:
                    blob = value if isinstance(value, bytes) else str(value).encode()
                    found.update(s for s in SECRETS if s.encode() in blob)
    return sorted(found)


def test_the_database_holds_no_clear_text_of_the_childs_data(
    ledger: CaseLedger, clock: SetClock, database_url: str
) -> None:
    record_a_case_with_secrets(ledger, clock)
    ledger.close()
    if database_url.startswith("sqlite"):
        assert found_in_sqlite(database_url) == []
    else:
        assert found_in_postgres(database_url) == []


def test_what_is_sealed_is_read_opened_exported_in_clear_and_verifies(
    ledger: CaseLedger, clock: SetClock, database_url: str
) -> None:
    record_a_case_with_secrets(ledger, clock)
    exported = b"\n".join(export_events(ledger))
    assert NATIONAL_ID is not None
    assert OBSERVATION.encode() in exported and NATIONAL_ID.encode() in exported
    assert verify(ledger.store).ok
    with CaseLedger.open(database_url, reader=TILSYN) as again:
        (case,) = again.list_cases()
        assert case.child_ref == CHILD
        assert [t.description for t in case.open_tiltak] == [TILTAK]
        assert again.history(case.case_id)[0].observations == OBSERVATION  # type: ignore[attr-defined]


def test_a_ledger_opened_with_another_master_key_refuses_to_read(
    ledger: CaseLedger, clock: SetClock, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    record_a_case_with_secrets(ledger, clock)
    monkeypatch.setenv(MASTER_KEY_ENV, "b3RoZXIgbWFzdGVyIGtleSBvZiAzMiBieXRlcyEhISE=")
    with (
        CaseLedger.open(database_url, reader=TILSYN) as again,
        pytest.raises(LedgerError, match="master_key_wrong"),
    ):
        again.list_cases()


def test_a_key_file_others_can_read_is_refused_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = tmp_path / "bti-master.key"
    write_master_key(key)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    monkeypatch.delenv(MASTER_KEY_ENV)
    monkeypatch.setenv(MASTER_KEY_FILE_ENV, str(key))
    assert len(load_master_key()) == 32
    os.chmod(key, 0o644)
    with pytest.raises(LedgerError, match=r"chmod 600 .*bti-master.key.*\[master_key_readable\]"):
        load_master_key()


def test_no_master_key_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MASTER_KEY_ENV)
    monkeypatch.setenv(MASTER_KEY_FILE_ENV, str(tmp_path / "missing.key"))
    with pytest.raises(LedgerError, match=r"master-generate.*\[master_key_missing\]"):
        load_master_key()


def test_bti_keys_master_generate_writes_an_owner_only_key_and_never_overwrites(
    tmp_path: Path,
) -> None:
    key = tmp_path / "keys" / "bti-master.key"
    runner = CliRunner()
    first = runner.invoke(build_app(), ["keys", "master-generate", "--file", str(key)])
    assert first.exit_code == 0, first.output
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    written = key.read_bytes()
    again = runner.invoke(build_app(), ["keys", "master-generate", "--file", str(key)])
    assert again.exit_code == 1 and "[master_key_exists]" in again.output
    assert key.read_bytes() == written


def test_bti_demo_without_a_master_key_makes_one_beside_its_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(MASTER_KEY_ENV)
    monkeypatch.delenv(MASTER_KEY_FILE_ENV, raising=False)
    url = f"sqlite:///{tmp_path / 'demo' / 'bti-demo.sqlite'}"
    result = CliRunner().invoke(build_app(), ["demo", "--db", url])
    assert result.exit_code == 0, result.output
    key = tmp_path / "demo" / "bti-master.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert os.environ[MASTER_KEY_FILE_ENV] == str(key)
    raw = b"".join(p.read_bytes() for p in (tmp_path / "demo").glob("bti-demo.sqlite*"))
    assert b"Elev 6B-14" not in raw  # a demo child's reference, sealed
