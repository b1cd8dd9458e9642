"""Test hook: pause a run at a named point so a crash test can `kill -9` it there (not timed by the clock).

`pause_point(name)` does nothing unless the environment variable CRM_TEST_PAUSE_AT names this point
(`ingest`, `dbt`, `publish`; more may be added by other stages). Then it writes the marker file named by
CRM_TEST_PAUSE_MARKER (atomically: "<pid> <point>") and sleeps until the process is killed. Production
runs never set the variable, so the hook costs one dictionary lookup.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

PAUSE_AT_ENV = "CRM_TEST_PAUSE_AT"
PAUSE_MARKER_ENV = "CRM_TEST_PAUSE_MARKER"
PAUSE_POINTS = ("ingest", "dbt", "ml", "publish")


def pause_point(name: str) -> None:
    """Sleep forever here if CRM_TEST_PAUSE_AT == `name`, after writing CRM_TEST_PAUSE_MARKER."""
    if os.environ.get(PAUSE_AT_ENV) != name:
        return
    marker = os.environ.get(PAUSE_MARKER_ENV)
    if marker:
        path = Path(marker)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(f"{os.getpid()} {name}\n")
        os.replace(tmp, path)
    while True:  # pragma: no cover - ends when the test kills the process
        time.sleep(3600)
