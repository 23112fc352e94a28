"""Worker processes that fold a rebuild's cases and make their rows, while the rebuild writes.

Four fifths of a rebuild is CPU in Python: opening and validating each event, folding its
case, computing the case's deadlines and sealing its rows. That work is the same function
of a batch's stored events in any process, so `bti rebuild` hands whole batches of cases to
workers (each reads the batch's events and case keys on a connection of its own, and writes
nothing) and writes their rows itself, in batch order, with the rebuild's progress in the
same transaction as before: a crash or an interrupt leaves exactly what the one-process
rebuild would have left.

A worker is `python -m ledger.projections.row_makers`, talking over its stdin and stdout in
length-prefixed pickles: not `multiprocessing`, whose spawned children import the caller's
main module again (a script without a `__main__` guard then fails), and whose forked
children would inherit this process's threads and open SQLite connections.
"""

from __future__ import annotations

import gc
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
import traceback
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, Any

from ledger.heap import BULK_THRESHOLDS, freeze_loaded_code
from ledger.projections import all_projections
from ledger.projections.sql import Database
from ledger.store import EventStoreApplication

if TYPE_CHECKING:
    from ledger.projections.runner import Writes

PARALLEL_FROM = 50_000
"""Events in the log from which a rebuild starts workers (each takes a second to start)."""

_LENGTH = 8


def default_workers() -> int:
    """One worker per core, at most eight (then the one writer is the bottleneck); none on
    one core. On two cores two workers beat one, the writer's core being idle part of the
    time: 98k events rebuilt in 15.3 s without workers, 13.4 s with one, 9.3 s with two."""
    cores = os.cpu_count() or 1
    return min(cores, 8) if cores > 1 else 0


class WorkerFailed(RuntimeError):
    """A worker process failed or stopped; the rebuild stops where its last batch ended."""


def _send(stream: IO[bytes], value: object) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(len(data).to_bytes(_LENGTH, "big") + data)
    stream.flush()


def _receive(stream: IO[bytes]) -> Any:
    """The next value, or EOFError when the other side has closed."""
    head = stream.read(_LENGTH)
    if len(head) < _LENGTH:
        raise EOFError
    data = stream.read(int.from_bytes(head, "big"))
    return pickle.loads(data)  # from our own process, over its own pipe


class Batch:
    """One batch handed to a worker: its rows are the worker's next answer."""

    def __init__(self, worker: subprocess.Popen[bytes]) -> None:
        self.worker = worker

    def result(self) -> tuple[int, Writes]:
        """The batch's events read, and its statements and rows (waits for them);
        WorkerFailed if it failed."""
        assert self.worker.stdout is not None
        try:
            ok, value = _receive(self.worker.stdout)
        except EOFError:
            raise WorkerFailed(f"a rebuild worker stopped (exit {self.worker.poll()})") from None
        if not ok:
            raise WorkerFailed(f"a rebuild worker failed:\n{value}")
        made: tuple[int, Writes] = value
        return made


class RowMakers:
    """Worker processes making a rebuild's rows, batches handed round in turn."""

    def __init__(self, store: EventStoreApplication, workers: int) -> None:
        self.workers = workers
        self._processes: list[subprocess.Popen[bytes]] = []
        self._turn = 0
        for _ in range(workers):
            process = subprocess.Popen(
                [sys.executable, "-m", __name__], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            )
            self._processes.append(process)
            assert process.stdin is not None
            # The tables exist: a worker creating them too raced the others on PostgreSQL.
            _send(process.stdin, {**store.env, "CREATE_TABLE": "false"})

    def rows(self, head: int, after: str, last: Any, names: Sequence[str]) -> Batch:
        """Hand one batch — the cases after `after` up to `last` — to the next worker, which
        reads its events itself; results come in turn, so take them in the order given."""
        process = self._processes[self._turn % self.workers]
        self._turn += 1
        assert process.stdin is not None
        try:
            _send(process.stdin, (head, after, last, list(names)))
        except BrokenPipeError:
            raise WorkerFailed(f"a rebuild worker stopped (exit {process.poll()})") from None
        return Batch(process)

    def __enter__(self) -> RowMakers:
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        for process in self._processes:
            if kind is not None:
                process.kill()  # interrupted or failed: their work would be thrown away
            elif process.stdin is not None:
                process.stdin.close()  # the worker ends when its input does
        for process in self._processes:
            process.wait()
            for stream in (process.stdin, process.stdout):
                if stream is not None:
                    stream.close()


def serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    """A worker's life: the store's environment, then batches until the input ends."""
    from ledger.projections.runner import ProjectionRunner  # noqa: PLC0415 - it imports us

    store = EventStoreApplication(env=_receive(requests), writes=False)
    runner = ProjectionRunner(Database(store), all_projections())
    freeze_loaded_code()
    gc.set_threshold(*BULK_THRESHOLDS)
    # The input is read by a thread of its own, so the rebuild never waits to hand over a
    # batch while this worker waits for it to take the last batch's rows.
    tasks: queue.Queue[Any] = queue.Queue()

    def read() -> None:
        while True:
            try:
                tasks.put(_receive(requests))
            except (EOFError, OSError):
                tasks.put(None)
                return

    threading.Thread(target=read, daemon=True).start()
    while (task := tasks.get()) is not None:
        head, after, last, names = task
        try:
            with runner.db.transaction() as cursor:
                answer: tuple[bool, Any] = (
                    True, runner.rebuilt_rows(cursor, head, after, last, names)
                )
        except Exception:
            answer = (False, traceback.format_exc())
        _send(answers, answer)


if __name__ == "__main__":
    # Ctrl-C reaches the whole process group: the rebuild stops its workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    answers = sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing printed by accident may break the answers
    serve(sys.stdin.buffer, answers)
