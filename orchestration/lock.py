"""One writer at a time: an OS file lock (`fcntl.flock`) in the warehouse folder.

The kernel releases the lock when the holder dies, so a killed run never blocks the next one. The lock
is re-entrant inside one process (the CLI takes it, then the Dagster run it starts takes it again).
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import threading
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from orchestration.errors import CrmWarehouseError

_held: dict[str, tuple[int, int]] = {}  # lock path -> (fd, depth)
_guard = threading.Lock()


def _describe_holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, json.JSONDecodeError):
        return "another process"
    return f"pid {info.get('pid')} on {info.get('host')} ({info.get('command')}, since {info.get('started')})"


@contextmanager
def warehouse_lock(lock_file: Path, purpose: str):
    """Hold the warehouse write lock for the duration of the block, or fail at once naming the holder."""
    key = str(lock_file.resolve())
    with _guard:
        if key in _held:
            fd, depth = _held[key]
            _held[key] = (fd, depth + 1)
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            with _guard:
                fd, depth = _held[key]
                _held[key] = (fd, depth - 1)
        return

    lock_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise CrmWarehouseError(
            f"{lock_file}: the warehouse is busy: {_describe_holder(lock_file)} is writing it; "
            "wait for it to finish (a killed run releases the lock automatically)"
        ) from None
    holder = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": purpose or " ".join(sys.argv[:3]),
        "started": datetime.now().isoformat(timespec="seconds"),
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(holder).encode(), 0)
    with _guard:
        _held[key] = (fd, 1)
    try:
        yield
    finally:
        with _guard:
            _held.pop(key, None)
        os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
