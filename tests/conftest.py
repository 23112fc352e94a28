"""Fixtures: every ledger test runs on a real SQLite file and on the real PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from ledger.application import CaseLedger
from tests.cast import RECTOR, START, TILSYN, SetClock

# Every ledger a test opens encrypts with this master key (docs/privacy.md); set before any
# test runs, so the `bti` processes the tests start inherit it too.
TEST_MASTER_KEY = "dGVzdHMtb25seSBtYXN0ZXIga2V5IC0gMzIgYnl0ZXM="
os.environ.setdefault("BTI_MASTER_KEY", TEST_MASTER_KEY)

POSTGRES_URL = os.environ.get("BTI_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def postgres_reachable() -> str | None:
    """None if PostgreSQL answers, else why not."""
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3):
            return None
    except psycopg.Error as error:
        return str(error)


@pytest.fixture(scope="session")
def postgres_ready() -> None:
    problem = postgres_reachable()
    if problem is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL is required in CI and cannot be reached: {problem}")
    pytest.skip(f"PostgreSQL not reachable here: {problem}")


@contextmanager
def fresh_schema() -> Iterator[str]:
    """The URL of a new, empty schema in the test database, dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{POSTGRES_URL}?schema={schema}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def postgres_url(postgres_ready: None) -> Iterator[str]:
    """A fresh schema in the test database, dropped afterwards."""
    with fresh_schema() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'bti.sqlite'}"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """The URL of an empty database: a SQLite file, then a PostgreSQL schema."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture
def other_database_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A second empty database of the same kind as `database_url` (to move a ledger into)."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'other.sqlite'}"
        return
    with fresh_schema() as url:
        yield url


@pytest.fixture
def clock() -> SetClock:
    return SetClock(START)


@pytest.fixture
def ledger(database_url: str, clock: SetClock) -> Iterator[CaseLedger]:
    """A new ledger with the default rulebook, on each database in turn, read by tilsyn."""
    with CaseLedger.create(
        database_url, rulebook="default", actor=RECTOR, clock=clock, reader=TILSYN
    ) as it:
        yield it


@pytest.fixture
def reopen(database_url: str, clock: SetClock) -> Iterator[object]:
    """Open the same ledger again, as a second process would (a fresh application)."""
    opened: list[CaseLedger] = []

    def _open() -> CaseLedger:
        it = CaseLedger.open(database_url, clock=clock, reader=TILSYN)
        opened.append(it)
        return it

    yield _open
    for it in opened:
        it.close()
