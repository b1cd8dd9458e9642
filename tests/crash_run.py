"""`python -m tests.crash_run POINT MARKER LANDING WAREHOUSE`: a `crm-warehouse run` that pauses at POINT.

The crash tests (tests/test_ops_crash.py) start this in a subprocess, wait for MARKER ("<pid> <point>",
written atomically when the run reaches POINT) and `kill -9` it there, so the kill lands at a known stage
without any timing. The pause comes in through the run's `hooks` resource (orchestration.assets.resources.
RunHooks), the same way any caller of `run_warehouse` may observe stages; production code reads no test
setting.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from orchestration.assets.resources import RunHooks
from orchestration.durable import atomic_write
from orchestration.runner import default_log_file, run_warehouse
from orchestration.settings import load_settings


class PausingHooks(RunHooks):
    """Sleeps forever at `point`, after writing `marker` atomically (never half-written)."""

    point: str
    marker: str

    def reached(self, point: str) -> None:
        if point != self.point:
            return
        atomic_write(Path(self.marker), f"{os.getpid()} {point}\n")
        while True:  # ends when the test kills the process
            time.sleep(3600)


def main(argv: list[str]) -> int:
    point, marker, landing, warehouse = argv
    settings = load_settings(landing, warehouse)
    run_warehouse(settings, log_file=default_log_file(settings), hooks=PausingHooks(point=point, marker=marker))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
