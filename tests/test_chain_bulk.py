"""One import of any size is one transaction: stored whole with its chain, or not at all.

A single save of ~20,000 ledger events (~10 MB) on PostgreSQL used to hang for ever in
psycopg's pipeline (`ledger/chain.py` says why). The save runs in a child process with a
deadline, so a hang fails the test instead of stopping the run.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from ledger.chain import GENESIS, chain_links, event_hash, event_id_of, event_id_text, link
from ledger.store import EventStoreApplication, environment_for
from replay.verify import verify

REPOSITORY = Path(__file__).resolve().parent.parent
BULK = 25_000
"""Events in the one big save: more than the ~20,000 that hung, at ~1 KB each (~25 MB)."""
DEADLINE = 300.0
"""Seconds the child may take; it took ~3–15 s once fixed, on a busy two-core machine."""


def ledger_shaped(stream_id: uuid.UUID, version: int, note: str) -> StoredEvent:
    """A stored event shaped as the ledger stores one, about a kilobyte of state."""
    state = json.dumps(
        {"type": "BrightSpotLogged", "schema_version": 1, "event_id": str(uuid.uuid4()),
         "sequence": version, "observation": note + " " + "x" * 900},
        separators=(",", ":"),
    ).encode()
    return StoredEvent(originator_id=stream_id, originator_version=version,
                       topic="BrightSpotLogged", state=state)


def bulk(count: int, streams: int = 2_500) -> list[StoredEvent]:
    """`count` events over `streams` cases, each case's versions from 1."""
    ids = [uuid.uuid4() for _ in range(streams)]
    return [ledger_shaped(ids[n % streams], n // streams + 1, f"Lysglimt {n}.") for n in range(count)]


def save_in_one_go(url: str) -> dict[str, object]:
    """The child's work: one big save, then one big save refused by its last event."""
    store = EventStoreApplication(env=environment_for(url))
    try:
        positions = store.recorder.insert_events(bulk(BULK))
        first = verify(store)
        refused = bulk(BULK - 1)
        refused.append(StoredEvent(originator_id=refused[0].originator_id, originator_version=1,
                                   topic="BrightSpotLogged", state=b"{}"))  # a version clash
        try:
            store.recorder.insert_events(refused)
            clash = "stored"
        except IntegrityError:
            clash = "refused"
        after = verify(store)
        return {"positions": len(positions or ()), "events": first.events, "ok": first.ok,
                "clash": clash, "events_after": after.events, "ok_after": after.ok}
    finally:
        store.close()


@pytest.mark.slow
def test_an_import_of_25000_events_on_postgres_is_stored_whole_or_not_at_all(
    postgres_url: str,
) -> None:
    code = (
        "import json, sys; from tests.test_chain_bulk import save_in_one_go; "
        "print(json.dumps(save_in_one_go(sys.argv[1])))"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", code, postgres_url], cwd=REPOSITORY, capture_output=True,
            text=True, timeout=DEADLINE, check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"one save of {BULK} events did not finish in {DEADLINE:.0f} s (hung)")
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"positions": BULK, "events": BULK, "ok": True,
                      "clash": "refused", "events_after": BULK, "ok_after": True}


def test_a_bulk_save_on_sqlite_is_chained_in_position_order(sqlite_url: str) -> None:
    store = EventStoreApplication(env=environment_for(sqlite_url))
    try:
        store.recorder.insert_events(bulk(3_000, streams=300))
        result = verify(store)
        assert result.ok and result.events == 3_000
    finally:
        store.close()


# ---- the hash stays what existing ledgers were chained with ------------------------------


def hash_as_first_written(stream_id: uuid.UUID, version: int, topic: str, state: bytes) -> bytes:
    """The event hash spelled out as the chain's first version computed it."""
    topic_bytes = topic.encode("utf-8")
    return hashlib.sha256(
        b"bti-ledger event v1\x00" + stream_id.bytes + version.to_bytes(8, "big", signed=True)
        + len(topic_bytes).to_bytes(4, "big") + topic_bytes + state
    ).digest()


def test_the_event_hash_and_the_links_are_the_ones_existing_ledgers_were_chained_with() -> None:
    stream = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert event_hash(stream, 3, "Topic", b"{}").hex() == hash_as_first_written(
        stream, 3, "Topic", b"{}").hex()
    assert event_hash(stream, 1, "T", b"").hex() == (
        "d34cd241091df0904ca035e70704ecec957e95c61bbfcbe4f1d832ca9f9ce136"
    )
    events = bulk(50, streams=7)
    links = chain_links(events, list(range(10, 60)), GENESIS, {})
    ledger_head, case_heads = GENESIS, dict[uuid.UUID, bytes]()
    for found, event in zip(links, events, strict=True):
        stream_id = uuid.UUID(str(event.originator_id))
        digest = hash_as_first_written(stream_id, event.originator_version, event.topic,
                                       event.state)
        ledger_head = hashlib.sha256(ledger_head + digest).digest()
        case_heads[stream_id] = hashlib.sha256(case_heads.get(stream_id, GENESIS) + digest).digest()
        assert (found.event_hash, found.case_hash, found.ledger_hash) == (
            digest, case_heads[stream_id], ledger_head)
    assert links[-1].ledger_hash == link(links[-2].ledger_hash, links[-1].event_hash)


def test_rows_given_out_of_position_order_are_chained_in_position_order() -> None:
    events = bulk(6, streams=2)
    in_order = chain_links(events, [1, 2, 3, 4, 5, 6], GENESIS, {})
    shuffled = chain_links(events[::-1], [6, 5, 4, 3, 2, 1], GENESIS, {})
    assert shuffled == in_order


@pytest.mark.parametrize("state", [
    b'{"type":"CaseClosed","schema_version":1,"event_id":"6513270e-269e-4d37-b2a7-4de452e6b438"}',
    b'{"event_id":"6513270E-269E-4D37-B2A7-4DE452E6B438","type":"X"}',
    b'{"type":"X","schema_version":1,"event_id":"not-a-uuid"}',
    b'{"type":"X","schema_version":1,"other":{"event_id":"6513270e-269e-4d37-b2a7-4de452e6b438"}}',
    b"\x00sealed bytes",
    b"state1",
    b"[]",
])
def test_the_event_id_read_quickly_is_the_one_the_json_holds(state: bytes) -> None:
    parsed = event_id_of(state)
    assert event_id_text(state) == (None if parsed is None else str(parsed))
