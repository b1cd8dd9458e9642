"""Where the raw zone keeps what: Parquet files per extract file, written atomically.

    <raw>/<entity>/_batch=<date>/<entity>.parquet     accepted rows of that day's file (+ lineage)
    <raw>/<entity>/_batch=<date>/released.parquet     late-arriving rows released in that batch
    <raw>/_meta/quarantine/_batch=<date>/<entity>.parquet
    <raw>/_meta/data_issues/_batch=<date>/<entity>.parquet
    <raw>/_meta/orphans/<entity>/_batch=<date>/<entity>.parquet   orphan rows, typed, awaiting a parent
    <raw>/_meta/audit/_batch=<date>/<entity>.parquet  one row; written last = the file is loaded
    <raw>/_meta/releases/<entity>.parquet             which orphan rows were released when (recomputed)
    <raw>/_meta/uncommitted/<date>                    day loaded by a run whose raw gates have not passed yet

`_batch` is the load batch: the extract date, except for released rows (the day their parent arrived),
so incremental models pick them up with `_batch > max(_batch)`.
"""

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path

import duckdb

from orchestration.durable import atomic_write
from orchestration.raw.sqlnames import execute

META = "_meta"
REBUILD_MARKER = "REBUILD_REQUIRED"  # under _meta/: incremental dbt models must be rebuilt from scratch


def batch_dir(root: Path, d: date) -> str:
    return f"_batch={d.isoformat()}"


def _batch_date(folder_name: str) -> date:
    return date.fromisoformat(folder_name.split("=", 1)[1])


def _visible(paths) -> list[Path]:
    return sorted(p for p in paths if not p.name.startswith("."))


class RawZone:
    def __init__(self, root: Path):
        self.root = root

    # --- paths ---------------------------------------------------------------------------------
    def accepted(self, entity: str, d: date) -> Path:
        return self.root / entity / batch_dir(self.root, d) / f"{entity}.parquet"

    def released(self, entity: str, d: date) -> Path:
        return self.root / entity / batch_dir(self.root, d) / "released.parquet"

    def meta(self, kind: str, entity: str, d: date) -> Path:
        if kind == "orphans":
            return self.root / META / "orphans" / entity / batch_dir(self.root, d) / f"{entity}.parquet"
        return self.root / META / kind / batch_dir(self.root, d) / f"{entity}.parquet"

    def releases(self, entity: str) -> Path:
        return self.root / META / "releases" / f"{entity}.parquet"

    # --- globs (passed to read_parquet as parameters) -------------------------------------------
    def entity_glob(self, entity: str) -> str:
        return str(self.root / entity / "*" / "*.parquet")

    def meta_glob(self, kind: str) -> str:
        if kind == "orphans":
            return str(self.root / META / "orphans" / "*" / "*" / "*.parquet")
        if kind == "releases":
            return str(self.root / META / "releases" / "*.parquet")
        return str(self.root / META / kind / "*" / "*.parquet")

    def has_files(self, glob: str) -> bool:
        return any(Path(self.root).glob(os.path.relpath(glob, self.root)))

    # --- listing (hidden names are temporary files of a writer, never data) ----------------------
    def row_files(self, entity: str, *, orphans: bool = True) -> list[Path]:
        """Every file holding rows of `entity`: accepted and released rows of each batch, then (with
        `orphans`) the orphan rows awaiting a parent."""
        files = _visible((self.root / entity).glob("*/*.parquet"))
        if orphans:
            files += _visible((self.root / META / "orphans" / entity).glob("*/*.parquet"))
        return files

    def meta_files(self, kind: str) -> list[Path]:
        """The metadata files of one kind (quarantine, data_issues, audit, releases) of every batch."""
        if kind == "releases":
            return _visible((self.root / META / "releases").glob("*.parquet"))
        return _visible((self.root / META / kind).glob("*/*.parquet"))

    def audits(self, entity: str) -> list[date]:
        """Extract dates whose file of `entity` is loaded (its audit row, written last, exists)."""
        return sorted(_batch_date(p.parent.name) for p in self.meta_files("audit") if p.stem == entity)

    # --- writing -------------------------------------------------------------------------------
    def write(self, con: duckdb.DuckDBPyConnection, query: str, params: dict, target: Path) -> None:
        """Write a query result to `target` atomically and durably (`durable.atomic_write`; a rewritten
        file keeps its permissions)."""
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, lambda tmp: execute(
            con, f"COPY ({query}) TO $target_path (FORMAT parquet, COMPRESSION zstd)",
            {**params, "target_path": str(tmp)}))

    def audited_dates(self) -> set[date]:
        """Extract dates with at least one loaded file."""
        base = self.root / META / "audit"
        if not base.is_dir():
            return set()
        return {date.fromisoformat(p.name.split("=", 1)[1]) for p in base.iterdir() if p.name.startswith("_batch=")}

    def remove_batch(self, d: date, rebuild: bool = True) -> None:
        """Delete everything loaded from extract `d` (used by `reload` and to roll back a refused night);
        releases are recomputed after. `rebuild=False` when no dbt build has read the batch yet."""
        name = batch_dir(self.root, d)
        for path in list(self.root.glob(f"*/{name}")) + list(self.root.glob(f"{META}/*/{name}")) + list(
            self.root.glob(f"{META}/orphans/*/{name}")
        ):
            if path.is_dir():
                # released rows placed in this batch belong to earlier days; they are recomputed anyway
                shutil.rmtree(path)
        for path in self.root.glob(f"{META}/releases/*.parquet"):
            path.unlink()
        if rebuild:
            self.require_rebuild(f"extract {d.isoformat()} was reloaded")

    # --- uncommitted nights --------------------------------------------------------------------
    # A day's marker is written (durably) before anything of that day, and removed once the run's raw
    # gates have passed; a day still marked never passed them (refused, or the run died) and is rolled back
    # (orchestration/raw/nights.py).
    def uncommitted_marker(self, d: date) -> Path:
        return self.root / META / "uncommitted" / d.isoformat()

    def mark_uncommitted(self, d: date, reason: str) -> None:
        from orchestration.durable import fsync

        marker = self.uncommitted_marker(d)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(reason + "\n", encoding="utf-8")
        fsync(marker)
        fsync(marker.parent)

    def uncommitted_dates(self) -> list[date]:
        base = self.root / META / "uncommitted"
        if not base.is_dir():
            return []
        return sorted(date.fromisoformat(p.name) for p in base.iterdir() if not p.name.startswith("."))

    # --- full-rebuild marker -------------------------------------------------------------------
    # Incremental dbt models pick up new batches only; a reloaded (replaced) day changes rows of a batch
    # they already hold. The marker survives until a dbt build succeeds, so a crash in between still
    # leads to a full rebuild on the next run.
    @property
    def rebuild_marker(self) -> Path:
        return self.root / META / REBUILD_MARKER

    def require_rebuild(self, reason: str) -> None:
        self.rebuild_marker.parent.mkdir(parents=True, exist_ok=True)
        with self.rebuild_marker.open("a", encoding="utf-8") as fh:
            fh.write(reason + "\n")

    def rebuild_reasons(self) -> list[str]:
        if not self.rebuild_marker.is_file():
            return []
        return [line for line in self.rebuild_marker.read_text(encoding="utf-8").splitlines() if line]

    def clear_rebuild(self) -> None:
        self.rebuild_marker.unlink(missing_ok=True)
