"""Stories of the collector in a ledger process: the loaded code is frozen, bulk work collects less."""

from __future__ import annotations

import gc
import subprocess
import sys

import pytest

from ledger.heap import BULK_THRESHOLDS, fewer_collections


def test_opening_a_ledger_freezes_the_loaded_event_models_out_of_the_collectors_sight(
    database_url: str,
) -> None:
    # In a fresh process: whatever this test process froze before does not count.
    probe = (
        "import gc, sys\n"
        "from ledger.events import UndringRegistered\n"
        "from ledger.store import open_store\n"
        "assert gc.get_freeze_count() == 0\n"
        "store = open_store(sys.argv[1])\n"
        "frozen = gc.get_freeze_count()\n"
        "open_store(sys.argv[1])\n"
        "print(frozen, gc.get_freeze_count(), gc.is_tracked(UndringRegistered))\n"
    )
    shown = subprocess.run(
        [sys.executable, "-c", probe, database_url], capture_output=True, text=True, check=True,
    ).stdout.split()
    frozen, after_second_open, model_tracked = int(shown[0]), int(shown[1]), shown[2]
    assert frozen > 10_000  # the modules and the models' validators
    assert after_second_open == frozen  # once per process: later objects stay collectable
    assert model_tracked == "True"


def test_a_bulk_job_collects_less_often_and_restores_the_collector_even_when_it_fails() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), fewer_collections():
        assert gc.get_threshold() == BULK_THRESHOLDS
        raise RuntimeError("the import was refused")
    assert gc.get_threshold() == before
