"""Someone with access to the database changes history behind the ledger's back.

Each story tampers with a ledger of two cases directly in SQL — on a SQLite file and in a
PostgreSQL schema — and `verify` must catch it and name the place (case, position, event),
and a checkpoint signed before the tampering must no longer verify.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import replay.verify
from ledger.application import CaseLedger
from ledger.chain import CHAIN_TABLE, GENESIS, event_hash, link
from ledger.projections.sql import Database
from replay.checkpoint import check_checkpoint, create_checkpoint
from replay.verify import Problem, verify
from tests.cast import RECTOR, TEACHER, SetClock
from tests.stories import register_s12_undring, register_undring


def build_two_cases(ledger: CaseLedger, clock: SetClock) -> tuple[UUID, UUID]:
    """Elev-17's § 12-sak and Elev-31's undring, each with a few events, interleaved."""
    s12 = register_s12_undring(ledger, clock)
    clock.advance(hours=1)
    other = register_undring(ledger, clock)
    for case_id in (s12, other, s12, other):
        clock.advance(hours=2)
        ledger.log_bright_spot(case_id, actor=TEACHER, observation="Smilte og var med i leken.")
    clock.advance(hours=1)
    ledger.share_with_leader(s12, actor=TEACHER, leader=RECTOR.person, how="samtale")
    return s12, other


class Tamperer:
    """Direct SQL on the ledger's tables, as someone with database access would write it."""

    def __init__(self, ledger: CaseLedger) -> None:
        self.db = Database(ledger.store)
        self.events = self.db.events_table
        self.position = self.db.position_column
        self.chain = self.db.table(CHAIN_TABLE)

    def run(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self.db.transaction() as cursor:
            cursor.execute(statement, params)
            try:
                return cursor.fetchall()
            except Exception:  # a statement without rows
                return []

    def row(self, position: int) -> tuple[Any, ...]:
        rows = self.run(
            f"SELECT originator_id, originator_version, topic, state FROM {self.events} "
            f"WHERE {self.position} = %s", (position,)
        )
        return rows[0]

    def positions(self, case_id: UUID) -> list[int]:
        return [int(r[0]) for r in self.run(
            f"SELECT {self.position} FROM {self.events} WHERE originator_id = %s "
            f"ORDER BY originator_version", (self.db.stream_key(case_id),)
        )]

    def event_id_at(self, position: int) -> UUID:
        return UUID(orjson.loads(bytes(self.row(position)[3]))["event_id"])

    def flip_one_byte(self, position: int) -> None:
        state = bytearray(bytes(self.row(position)[3]))
        # "Smilte" → "Rmilte" where it is in clear; else one bit inside a sealed field's text.
        sealed = state.find(b'{"enc":"')
        index = (state.index(b"Smilte") if b"Smilte" in state
                 else sealed + 12 if sealed >= 0 else len(state) // 2)
        state[index] ^= 0x01  # one bit of one byte
        self.run(f"UPDATE {self.events} SET state = %s WHERE {self.position} = %s",
                 (bytes(state), position))

    def delete(self, position: int, *, with_chain_row: bool = False) -> None:
        self.run(f"DELETE FROM {self.events} WHERE {self.position} = %s", (position,))
        if with_chain_row:
            self.run(f"DELETE FROM {self.chain} WHERE position = %s", (position,))

    def swap(self, first: int, second: int) -> None:
        parking = -1_000_000
        for old, new in ((first, parking), (second, first), (parking, second)):
            self.run(f"UPDATE {self.events} SET {self.position} = %s WHERE {self.position} = %s",
                     (new, old))

    def truncate_after(self, count: int) -> None:
        keep = [int(r[0]) for r in self.run(
            f"SELECT position FROM {self.chain} ORDER BY position LIMIT %s", (count,)
        )][-1]
        self.run(f"DELETE FROM {self.events} WHERE {self.position} > %s", (keep,))
        self.run(f"DELETE FROM {self.chain} WHERE position > %s", (keep,))

    def forge_event(
        self, case_id: UUID, template_position: int, at_position: int | None = None
    ) -> UUID:
        """Insert a copy of a stored bright spot as the case's next event, with a new id.

        At the end of the log, or `at_position`: back in history, the later events moved up
        one place to make room.
        """
        _, _, topic, state = self.row(template_position)
        values = orjson.loads(bytes(state))
        version = len(self.positions(case_id)) + 1
        forged = uuid4()
        values.update(event_id=str(forged), sequence=version,
                      observation="Alt er bra hjemme, sier foresatte.")
        columns, params = "originator_id, originator_version, topic, state", [
            self.db.stream_key(case_id), version, topic, orjson.dumps(values)
        ]
        if at_position is not None:
            later = [int(r[0]) for r in self.run(
                f"SELECT {self.position} FROM {self.events} WHERE {self.position} >= %s "
                f"ORDER BY {self.position} DESC", (at_position,)
            )]
            for position in later:
                self.run(f"UPDATE {self.events} SET {self.position} = %s "
                         f"WHERE {self.position} = %s", (position + 1, position))
            columns += f", {self.position}"
            params.append(at_position)
        placeholders = ", ".join(["%s"] * len(params))
        self.run(f"INSERT INTO {self.events} ({columns}) VALUES ({placeholders})", tuple(params))
        return forged

    def rechain(self) -> None:
        """What a careful forger does next: rewrite the whole chain so it links again."""
        rows = self.run(
            f"SELECT {self.position}, originator_id, originator_version, topic, state "
            f"FROM {self.events} ORDER BY {self.position}"
        )
        heads: dict[UUID, bytes] = {}
        ledger_head = GENESIS
        self.run(f"DELETE FROM {self.chain}")
        for position, stream, version, topic, state in rows:
            stream_id = stream if isinstance(stream, UUID) else UUID(str(stream))
            digest = event_hash(stream_id, int(version), str(topic), bytes(state))
            heads[stream_id] = link(heads.get(stream_id, GENESIS), digest)
            ledger_head = link(ledger_head, digest)
            self.run(
                f"INSERT INTO {self.chain} (position, stream_id, version, event_id, event_hash, "
                "case_hash, ledger_hash) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (int(position), self.db.stream_key(stream_id), int(version),
                 orjson.loads(bytes(state))["event_id"], digest, heads[stream_id], ledger_head),
            )


@pytest.fixture(autouse=True, params=["one batch", "batches of three", "one case head held"])
def batch_size(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Every story three times: the ledger read in one batch, and in batches of three
    positions, so a break is also found in a later batch, a checkpoint's count inside one,
    and the case chains followed across batches and after the ledger chain broke; and so
    while holding one case's head only, so that each case's head is read back from the
    chain table whenever the other case came between (as in a ledger of a million cases)."""
    if request.param != "one batch":
        monkeypatch.setattr(replay.verify, "BATCH", 3)
    if request.param == "one case head held":
        monkeypatch.setattr(replay.verify, "CASE_HEADS_HELD", 1)
    return replay.verify.BATCH


@pytest.fixture
def tampered(ledger: CaseLedger, clock: SetClock, tmp_path: Path) -> dict[str, Any]:
    """A ledger of two cases, a checkpoint signed now, and the means to tamper with it."""
    s12, other = build_two_cases(ledger, clock)
    key = Ed25519PrivateKey.generate()
    checkpoint, before = create_checkpoint(ledger.store, key, clock.now)
    assert before.ok and before.events == 8  # the rulebook, 4 + 3 case events
    return {
        "s12": s12, "other": other, "sql": Tamperer(ledger), "key": key,
        "checkpoint": checkpoint, "before": before,
    }


def first_problem(ledger: CaseLedger) -> Problem:
    result = verify(ledger.store)
    assert not result.ok
    problem = result.first_problem
    assert problem is not None
    return problem


def checkpoint_still_holds(ledger: CaseLedger, tampered: dict[str, Any]) -> bool:
    key: Ed25519PrivateKey = tampered["key"]
    return check_checkpoint(ledger.store, tampered["checkpoint"], key.public_key()).ok


def test_an_untouched_ledger_verifies_and_extends_its_checkpoint(
    ledger: CaseLedger, clock: SetClock, tampered: dict[str, Any]
) -> None:
    clock.advance(days=1)
    ledger.log_bright_spot(tampered["s12"], actor=TEACHER, observation="Ny venn i klassen.")
    result = verify(ledger.store)
    assert result.ok and result.events == 9
    assert checkpoint_still_holds(ledger, tampered)


def test_one_byte_changed_in_a_stored_event_is_named_with_case_position_and_event(
    ledger: CaseLedger, tampered: dict[str, Any]
) -> None:
    sql: Tamperer = tampered["sql"]
    position = sql.positions(tampered["other"])[1]  # Elev-31's first bright spot
    event_id = sql.event_id_at(position)
    sql.flip_one_byte(position)
    problem = first_problem(ledger)
    assert (problem.kind, problem.position, problem.case_id, problem.event_id, problem.version) == (
        "altered", position, tampered["other"], event_id, 2
    )
    assert not checkpoint_still_holds(ledger, tampered)


def test_a_deleted_event_is_named_from_the_chain_row_it_leaves_behind(
    ledger: CaseLedger, tampered: dict[str, Any]
) -> None:
    sql: Tamperer = tampered["sql"]
    position = sql.positions(tampered["s12"])[2]
    event_id = sql.event_id_at(position)
    sql.delete(position)
    problem = first_problem(ledger)
    assert (problem.kind, problem.position, problem.case_id, problem.event_id) == (
        "missing", position, tampered["s12"], event_id
    )
    assert not checkpoint_still_holds(ledger, tampered)


def test_an_event_deleted_with_its_chain_row_breaks_the_link_of_the_next_event(
    ledger: CaseLedger, tampered: dict[str, Any]
) -> None:
    sql: Tamperer = tampered["sql"]
    position = sql.positions(tampered["s12"])[2]
    following = position + 1
    sql.delete(position, with_chain_row=True)
    problem = first_problem(ledger)
    assert (problem.kind, problem.position) == ("ledger_link", following)
    result = verify(ledger.store)
    assert any(p.kind == "case_gap" and p.case_id == tampered["s12"] for p in result.problems)
    assert not checkpoint_still_holds(ledger, tampered)


def test_two_swapped_events_are_caught_at_the_first_of_them(
    ledger: CaseLedger, tampered: dict[str, Any]
) -> None:
    sql: Tamperer = tampered["sql"]
    first, second = sql.positions(tampered["s12"])[1], sql.positions(tampered["other"])[1]
    expected, found = sql.event_id_at(first), sql.event_id_at(second)
    sql.swap(first, second)
    problem = first_problem(ledger)
    assert (problem.kind, problem.position, problem.event_id, problem.found_event_id) == (
        "moved", min(first, second), expected, found
    )
    assert not checkpoint_still_holds(ledger, tampered)


def test_a_truncated_tail_verifies_alone_but_not_against_the_checkpoint(
    ledger: CaseLedger, tampered: dict[str, Any]
) -> None:
    sql: Tamperer = tampered["sql"]
    sql.truncate_after(6)
    result = verify(ledger.store)
    assert result.ok and result.events == 6  # a shorter chain is whole: only a checkpoint shows it
    key: Ed25519PrivateKey = tampered["key"]
    check = check_checkpoint(ledger.store, tampered["checkpoint"], key.public_key())
    assert not check.ok
    problem = check.verification.first_problem
    assert problem is not None
    assert (problem.kind, problem.position) == ("checkpoint_beyond_end", 8)


def test_a_forged_event_inserted_without_a_chain_row_is_named(
    ledger: CaseLedger, tampered: dict[str, Any]
) -> None:
    sql: Tamperer = tampered["sql"]
    forged = sql.forge_event(tampered["other"], sql.positions(tampered["other"])[1])
    problem = first_problem(ledger)
    assert (problem.kind, problem.case_id, problem.event_id) == (
        "unchained", tampered["other"], forged
    )
    assert not checkpoint_still_holds(ledger, tampered)


@pytest.mark.parametrize("tampering", ["flip", "delete", "swap", "forge"])
def test_a_forger_who_rewrites_the_whole_chain_is_caught_by_the_checkpoint(
    ledger: CaseLedger, tampered: dict[str, Any], tampering: str
) -> None:
    sql: Tamperer = tampered["sql"]
    s12, other = sql.positions(tampered["s12"]), sql.positions(tampered["other"])
    actions: dict[str, Callable[[], object]] = {
        "flip": lambda: sql.flip_one_byte(other[1]),
        "delete": lambda: sql.delete(s12[2]),
        "swap": lambda: sql.swap(s12[1], other[1]),
        "forge": lambda: sql.forge_event(tampered["other"], other[1], at_position=other[1]),
    }
    actions[tampering]()
    sql.rechain()
    key: Ed25519PrivateKey = tampered["key"]
    check = check_checkpoint(ledger.store, tampered["checkpoint"], key.public_key())
    if tampering in ("flip", "swap"):
        assert verify(ledger.store).ok  # the chain links again: only the checkpoint shows it
    # (a deleted or inserted event also leaves its case's versions out of step, which the
    # case chain shows even without a checkpoint)
    assert not check.ok
    expected = "checkpoint_beyond_end" if tampering == "delete" else "checkpoint_head"
    assert [(p.kind, p.position) for p in check.verification.problems if p.kind.startswith(
        "checkpoint")] == [(expected, 8)]


def test_a_forged_event_appended_with_a_rewritten_chain_looks_like_a_new_event(
    ledger: CaseLedger, tampered: dict[str, Any]
) -> None:
    # The limit of a hash chain without a secret, said in docs/tilsyn.md: an event added at
    # the end, chain and all, by someone with write access to the database extends every
    # earlier checkpoint. Who recorded what is the application's access control and the
    # database's own log; the chain proves that nothing *before* a checkpoint changed.
    sql: Tamperer = tampered["sql"]
    sql.forge_event(tampered["other"], sql.positions(tampered["other"])[1])
    sql.rechain()
    assert checkpoint_still_holds(ledger, tampered)


def test_a_checkpoint_edited_by_hand_fails_its_signature(
    ledger: CaseLedger, tampered: dict[str, Any], clock: SetClock
) -> None:
    from dataclasses import replace

    key: Ed25519PrivateKey = tampered["key"]
    edited = replace(tampered["checkpoint"], created_at=(clock.now - timedelta(days=30)).isoformat())
    check = check_checkpoint(ledger.store, edited, key.public_key())
    assert not check.signature_valid and not check.ok
    other_key = Ed25519PrivateKey.generate().public_key()
    assert not check_checkpoint(ledger.store, tampered["checkpoint"], other_key).ok


@pytest.mark.parametrize(("column", "kind"), [("ledger_hash", "ledger_link"),
                                              ("case_hash", "case_link")])
def test_a_chain_row_edited_by_hand_is_named(
    ledger: CaseLedger, tampered: dict[str, Any], column: str, kind: str
) -> None:
    sql: Tamperer = tampered["sql"]
    position = sql.positions(tampered["s12"])[1]
    sql.run(f"UPDATE {sql.chain} SET {column} = %s WHERE position = %s", (bytes(32), position))
    problem = first_problem(ledger)
    assert (problem.kind, problem.position, problem.case_id) == (kind, position, tampered["s12"])


def test_verify_recomputes_the_head_exactly_as_the_chain_defines_it(
    ledger: CaseLedger, tampered: dict[str, Any]
) -> None:
    # verify writes the hashes of `ledger/chain.py` out in its hot loop: they must agree.
    sql: Tamperer = tampered["sql"]
    head = GENESIS
    for _, stream, version, topic, state in sql.run(
        f"SELECT {sql.position}, originator_id, originator_version, topic, state "
        f"FROM {sql.events} ORDER BY {sql.position}"
    ):
        stream_id = stream if isinstance(stream, UUID) else UUID(str(stream))
        head = link(head, event_hash(stream_id, int(version), str(topic), bytes(state)))
    result = verify(ledger.store)
    assert result.ok and result.events == 8 and result.head == head


def test_a_case_hash_edited_by_hand_is_named_with_its_event(
    ledger: CaseLedger, tampered: dict[str, Any]
) -> None:
    sql: Tamperer = tampered["sql"]
    position = sql.positions(tampered["other"])[2]
    event_id = sql.event_id_at(position)
    sql.run(f"UPDATE {sql.chain} SET case_hash = %s WHERE position = %s", (bytes(32), position))
    result = verify(ledger.store)
    assert result.events == 8  # the ledger chain is whole: only the case chain broke
    assert [(p.kind, p.position, p.case_id, p.event_id, p.version) for p in result.problems] == [
        ("case_link", position, tampered["other"], event_id, 3)
    ]


def test_a_case_whose_versions_jump_is_named_even_after_the_ledger_chain_broke(
    ledger: CaseLedger, tampered: dict[str, Any]
) -> None:
    sql: Tamperer = tampered["sql"]
    s12 = sql.positions(tampered["s12"])
    next_of_case = sql.event_id_at(s12[2])
    sql.delete(s12[1], with_chain_row=True)
    assert [(p.kind, p.position, p.case_id, p.event_id, p.version)
            for p in verify(ledger.store).problems if p.kind.startswith("case")] == [
        ("case_gap", s12[2], tampered["s12"], next_of_case, 3)
    ]
