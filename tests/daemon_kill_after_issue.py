"""A reminder daemon that kills itself (SIGKILL) at one exact point of a round, for the crash
tests in `test_daemon_processes.py`:

    python tests/daemon_kill_after_issue.py URL NOW after_recording|before_delivering [CONFIG]

- `after_recording`: the ReminderIssued events are stored, the outbox rows not yet marked
  issued;
- `before_delivering`: every reminder of the round is issued, none delivered yet.

Nothing is cleaned up and no `finally` runs: SIGKILL is what a power cut or the OOM killer does.
"""

from __future__ import annotations

import os
import signal
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ledger.daemon import open_daemon  # noqa: E402
from ledger.reminders.config import load_config  # noqa: E402


def die(*args: Any, **kwargs: Any) -> Any:
    os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    url, now, mode = sys.argv[1], datetime.fromisoformat(sys.argv[2]), sys.argv[3]
    config = load_config(Path(sys.argv[4]) if len(sys.argv) > 4 else None)
    daemon = open_daemon(url, config, lambda: now)
    if mode == "after_recording":
        daemon.outbox.mark_issued = die  # type: ignore[method-assign]
    elif mode == "before_delivering":
        daemon.deliverer.deliver = die  # type: ignore[method-assign]
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    daemon.tick()
    raise SystemExit("the daemon was to be killed, but the round ended")


if __name__ == "__main__":
    main()
