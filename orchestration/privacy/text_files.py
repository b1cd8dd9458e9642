"""The person in text: files the runs leave, transcoded scratch copies, and the landing folder.

* `redact_text_files` rewrites (atomically, keeping permissions) every text file under the warehouse
  folder except the data folders (data docs, the HTML report, run logs): forgotten ids and emails become
  REDACTED;
* `remove_scratch` deletes the transcoded UTF-8 copies of extract files a killed run may have left in
  the scratch folder (they hold raw extract text);
* `scan_landing` only reads: the lines of each landing extract file that still hold the person.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

from orchestration.durable import atomic_write
from orchestration.privacy.matching import Sweeper
from orchestration.raw import landing as landing_mod

REDACTED = "[forgotten]"
TEXT_SUFFIXES = {".html", ".htm", ".json", ".log", ".txt", ".csv", ".md", ".xml"}
SKIP_DIRS = {"raw", "parquet", "snapshots"}  # data folders, scrubbed as data (top level of the warehouse)


def redact_text_files(warehouse: Path, sweeper: Sweeper, say) -> int:
    """Replace forgotten ids and emails in the text files under `warehouse`; returns files changed."""
    pattern = sweeper.text_pattern()
    if pattern is None:
        return 0
    changed = 0
    for root, dirs, files in os.walk(warehouse):
        here = Path(root)
        if here == warehouse:
            dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
        for name in files:
            path = here / name
            if path.suffix.lower() not in TEXT_SUFFIXES or name.startswith(".") or path.is_symlink():
                continue
            try:
                text = path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            new, n = pattern.subn(REDACTED, text)
            if n:
                atomic_write(path, new)
                changed += 1
                say(f"{path}: {n} mentions replaced by {REDACTED}")
    return changed


def remove_scratch(scratch_dir: Path) -> int:
    """Delete the files of the scratch folder; returns how many."""
    n = 0
    if scratch_dir.is_dir():
        for p in scratch_dir.iterdir():
            if p.is_file():
                p.unlink(missing_ok=True)
                n += 1
    return n


def scan_landing(landing_dir: Path, sweeper: Sweeper) -> dict[str, int]:
    """Lines of each landing extract file (relative name) that still hold a forgotten id or email."""
    pattern = sweeper.text_pattern()
    out: dict[str, int] = {}
    if pattern is None or not landing_dir.is_dir():
        return out
    for d in landing_mod.complete_extract_dates(landing_dir):
        for f in landing_mod.read_extract(landing_dir, d).files:
            opener = gzip.open if f.path.name.endswith(".gz") else open
            encoding = "utf-8-sig" if f.encoding.startswith("utf-8") else f.encoding
            with opener(f.path, "rt", encoding=encoding, errors="replace", newline="") as fh:
                n = sum(1 for line in fh if pattern.search(line))
            if n:
                out[f.relative_name] = n
    return out
