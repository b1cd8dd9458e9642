"""Durable writes: flush a file's data, or a folder's entries (after a rename into it), to disk, so a
crash right after an `os.replace` cannot leave an empty or missing file behind."""

import os
from pathlib import Path


def fsync(path: Path) -> None:
    """fsync a file or a directory (opened read-only; Linux allows fsync on a directory descriptor)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
