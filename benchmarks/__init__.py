"""Benchmarks: the ledger measured against the physical floor beneath it, in one run.

`python -m benchmarks` generates a synthetic municipality (`generate`), measures the floor
(`floor`: raw sqlite3/psycopg + orjson), the naive eventsourcing way (`naive`) and the
project (`measure`), and prints every result as a ratio to its floor with the target from
issue 7. `benchmarks/RESULTS.md` holds one full run and what the profiles showed.
"""
