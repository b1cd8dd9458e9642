"""Where one warehouse's published artefacts live, and the file operations on them that a publish, a
restore and `forget` share: leftovers of an interrupted publish removed, publish ids, the `parquet/current`
link switched atomically, snapshots hard-linked and pruned.

    WAREHOUSE/crm.duckdb                     the serving file (read-only, replaced, never written in place)
    WAREHOUSE/parquet/<publish_id>/<schema>/<table>.parquet, WAREHOUSE/parquet/current -> <publish_id>
    WAREHOUSE/snapshots/<publish_id>.duckdb  hard links of the last published files
    WAREHOUSE/ops/run_history/               append-only run records (published as ops.run_history)
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from orchestration.durable import atomic_write, remove_partials

NEW_FILE_PREFIX = ".crm.duckdb.new-"
PUBLISHED_FILE_MODE = 0o444  # the serving file and its snapshots: read-only, so no BI tool opens them read-write
CURRENT_LINK = "current"


@dataclass(frozen=True)
class ServingLayout:
    """Where one warehouse's published artefacts live (all next to the serving file)."""

    serving_db: Path

    @property
    def root(self) -> Path:
        return self.serving_db.parent

    @property
    def parquet_dir(self) -> Path:
        return self.root / "parquet"

    @property
    def current_link(self) -> Path:
        return self.parquet_dir / CURRENT_LINK

    @property
    def snapshots_dir(self) -> Path:
        return self.root / "snapshots"

    @property
    def run_history_dir(self) -> Path:
        return self.root / "ops" / "run_history"

    def snapshot(self, publish_id: str) -> Path:
        return self.snapshots_dir / f"{publish_id}.duckdb"


def remove_leftovers(layout: ServingLayout) -> list[Path]:
    """Delete what a killed publish may have left (temporary files, half-written Parquet folders).

    Only call this while holding the warehouse lock."""
    removed: list[Path] = []
    for p in layout.root.glob(f"{NEW_FILE_PREFIX}*"):
        p.unlink(missing_ok=True)
        removed.append(p)
    for p in layout.root.glob(".crm.duckdb.restore-*"):
        p.unlink(missing_ok=True)
        removed.append(p)
    removed += remove_partials(layout.root, recursive=False)  # other atomic_write leftovers (forget's copies)
    if layout.parquet_dir.is_dir():
        for p in layout.parquet_dir.glob(".*"):
            if p.is_symlink() or p.is_file():
                p.unlink(missing_ok=True)
            else:
                shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    if layout.snapshots_dir.is_dir():
        for p in layout.snapshots_dir.glob(".*"):
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def new_publish_id(layout: ServingLayout, published_at: datetime, as_of: date | None) -> str:
    """`<YYYYmmddTHHMMSS>[.n]-asof<date>`: sorts chronologically; unique among kept publishes."""
    stamp = published_at.strftime("%Y%m%dT%H%M%S")
    suffix = f"-asof{as_of.isoformat()}" if as_of else ""
    n = 0
    while True:
        pid = stamp + (f".{n}" if n else "") + suffix
        if not layout.snapshot(pid).exists() and not (layout.parquet_dir / pid).exists():
            return pid
        n += 1


def switch_current(layout: ServingLayout, publish_id: str) -> None:
    """Point `parquet/current` at `parquet/<publish_id>` atomically (new link + rename over the old)."""
    if layout.current_link.is_dir() and not layout.current_link.is_symlink():
        # the warehouse was copied without preserving links (cp -r, copytree): make `current` a link again
        shutil.rmtree(layout.current_link)
    atomic_write(  # relative: the warehouse folder may move
        layout.current_link, lambda tmp: os.symlink(publish_id, tmp, target_is_directory=True),
        temp_name=f".current-{os.getpid()}",
    )


def current_publish_id(layout: ServingLayout) -> str | None:
    """The publish the `parquet/current` link points at."""
    try:
        return os.readlink(layout.current_link)
    except OSError:
        return None


def take_snapshot(layout: ServingLayout, publish_id: str) -> Path | None:
    """`snapshots/<publish_id>.duckdb`: a hard link to the just-published file (costs no space; the
    serving file is only ever replaced, never written in place), a copy where links are impossible."""
    layout.snapshots_dir.mkdir(parents=True, exist_ok=True)
    target = layout.snapshot(publish_id)
    atomic_write(target, lambda tmp: link_or_copy(layout.serving_db, tmp), temp_name=f".{publish_id}.{os.getpid()}")
    return target


def link_or_copy(source: Path, target: Path) -> None:
    """`target` as a hard link of `source` (a published file is only ever replaced, never written in place,
    so a link costs no space and cannot change), or a copy where links are impossible."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def prune(layout: ServingLayout, keep: int, log=None) -> list[Path]:
    """Keep the newest `keep` snapshots and their Parquet folders (and whatever `current` points at)."""
    say = log or (lambda msg: None)
    removed: list[Path] = []
    snaps = sorted(layout.snapshots_dir.glob("*.duckdb"), key=lambda p: p.stem) if layout.snapshots_dir.is_dir() else []
    snaps = [p for p in snaps if not p.name.startswith(".")]
    for p in snaps[: max(0, len(snaps) - keep)]:
        p.unlink(missing_ok=True)
        removed.append(p)
    kept_ids = {p.stem for p in snaps[max(0, len(snaps) - keep):]}
    current = current_publish_id(layout)
    if layout.parquet_dir.is_dir():
        for d in sorted(layout.parquet_dir.iterdir()):
            if d.name.startswith(".") or d.name == CURRENT_LINK or d.is_symlink() or not d.is_dir():
                continue
            if d.name in kept_ids or d.name == current:
                continue
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    for p in removed:
        say(f"pruned {p}")
    return removed
