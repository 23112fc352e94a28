"""Python's cyclic garbage collector, collecting less often during bulk work."""

from __future__ import annotations

import functools
import gc
from collections.abc import Iterator
from contextlib import contextmanager

BULK_THRESHOLDS = (50_000, 20, 100)
"""gc thresholds while a bulk job runs (Python's defaults: 700, 10, 10).

A bulk job (import, replay, rebuild) makes millions of short-lived pydantic models and
holds a few hundred thousand objects besides; with the defaults the collector ran every
700 allocations and scanned the older generations so often that it took about a third of
an import's time, and four fifths of reading the accepted events back. Little of what such
a job makes is cyclic garbage, so collecting it later costs little memory."""


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the block with BULK_THRESHOLDS, then restore whatever was set before."""
    before = gc.get_threshold()
    gc.set_threshold(*BULK_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)


@functools.cache  # once per process
def freeze_loaded_code() -> None:
    """Once per process, after the ledger's modules are loaded: keep what is alive now (the
    modules, the event models and pydantic's compiled validators) out of every later
    collection.

    Each full collection walked every event model's compiled validator: 30 ms for a heap
    of 50,000 objects, and under a stream of reads one came every fifty or so queries —
    that pause was the deadline query's p99 (49 ms; 8 ms frozen). What is frozen is the
    code, which lives as long as the process anyway.
    """
    gc.freeze()
