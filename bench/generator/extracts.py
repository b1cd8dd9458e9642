"""Write the nightly extract folders: every entity file of every day, its dirty rows and its manifest.

While a file is written, the truth rows it implies are collected: planted dirty rows and late-arrival
orphans (`dirty_rows`), field defects (`dirty_fields`) and tricky-but-valid values (`tricky_clean`).

Each customer block appends its chunk to every delta file of every day (its own dirty rows, planted
among its rows); the last block writes the snapshot files whole and each day's manifest.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from orchestration import contract as c

from .common import ID_PREFIX, fmt_id
from .defects import FreshKeys, make_dirty, plan_defects
from .tricks import find
from .world import Shared, World
from .writer import Writer

SPECIAL_DAY1 = {  # entity: (encoding, bom, crlf) of its day-1 file
    "customers": ("gbk", False, False),
    "products": ("utf-8", True, False),
    "service_tickets": ("utf-8", False, True),
}
FIELD_COLUMN = {c.INVALID_EMAIL: "email", c.INVALID_PHONE: "phone", c.IMPOSSIBLE_BIRTH_DATE: "birth_date"}
TEMPLATES_PER_FILE = 200


#: every entity but the optional ones (fx_rates: the generated CRM has one currency, CNY)
GENERATED_ENTITIES = tuple(e for e in c.ENTITIES if e.name not in c.OPTIONAL_ENTITIES)


@dataclass
class TruthRows:
    """Truth rows collected while files are written (see `truth.py` for their columns)."""

    dirty_rows: list[tuple] = field(default_factory=list)
    dirty_fields: list[tuple] = field(default_factory=list)
    tricky: list[tuple] = field(default_factory=list)


@dataclass
class FileState:
    """One extract file being written in chunks."""

    rel: str  # <date>/<file name>, relative to the output folder
    columns: list[str]  # column order of the file
    encoding: str
    bom: bool
    crlf: bool
    records: int = 0  # data records written so far
    digest: object = field(default_factory=hashlib.sha256)


@dataclass
class ExtractWriter:
    """Everything needed to write the files of one run; `start_block` hands over each block."""

    out_dir: Path
    dates: list[date]
    shared: Shared
    writer: Writer
    shuffled: str | None  # the entity whose day-2 file has its columns shuffled
    truth: TruthRows = field(default_factory=TruthRows)
    files: dict[tuple[int, str], FileState] = field(default_factory=dict)
    world: World | None = None
    versions: dict[str, pd.DataFrame] | None = None
    keys: FreshKeys | None = None
    rng: np.random.Generator | None = None
    last: bool = True  # the block being written is the run's last

    def start_block(self, world: World, versions: dict, keys: FreshKeys, rng, last: bool) -> None:
        self.world, self.versions, self.keys, self.rng, self.last = world, versions, keys, rng, last

    def end_block(self) -> None:
        self.world = self.versions = self.keys = self.rng = None

    def write_day(self, day: int, step=lambda name: None) -> dict[str, int] | None:
        """Append the block's rows to every delta file of extract `day`; the last block also writes the
        snapshot files and the manifest, and returns the records per entity."""
        self.keys.customers = _safe_customers(self.versions["customers"], day)
        manifest_path = self.out_dir / self.dates[day - 1].isoformat() / c.MANIFEST_NAME
        manifest_path.unlink(missing_ok=True)  # a folder being (re)written is not complete
        for entity in GENERATED_ENTITIES:
            if entity.kind != c.SNAPSHOT or self.last:
                self._write_file(day, entity)
            step(f"{self.dates[day - 1]} {entity.name}")
        if not self.last:
            return None
        files = []
        for entity in GENERATED_ENTITIES:
            state = self.files[(day, entity.name)]
            files.append(
                {
                    "entity": entity.name,
                    "file": entity.file_name,
                    "rows": state.records,
                    "encoding": state.encoding,
                    "sha256": state.digest.hexdigest(),
                }
            )
        manifest = {"extract_date": self.dates[day - 1].isoformat(), "files": files}
        manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        return {f["entity"]: f["rows"] for f in files}

    def _clean_rows(self, day: int, entity: c.Entity) -> pd.DataFrame:
        if entity.kind == c.SNAPSHOT:
            snapshots = {
                "products": self.shared.product_days[day - 1],
                "sales_reps": self.shared.sales_reps,
                "service_plans": self.shared.service_plans,
                "campaigns": self.shared.campaigns,
                "sales_targets": self.shared.sales_targets,
            }
            clean = snapshots[entity.name]
        else:
            v = self.versions[entity.name]
            clean = v[v["_day"].to_numpy() == day]
        return _key_sorted(clean, entity.key)

    def _state(self, day: int, entity: c.Entity) -> tuple[FileState, bool]:
        """The file's state, created (column order, encoding) by its first chunk; True when created now."""
        key = (day, entity.name)
        if key in self.files:
            return self.files[key], False
        columns = entity.column_names
        if day == 2 and entity.name == self.shuffled:  # prove that loaders match columns by name
            columns = [columns[i] for i in self.rng.permutation(len(columns))]
        encoding, bom, crlf = (
            SPECIAL_DAY1.get(entity.name, ("utf-8", False, False)) if day == 1 else ("utf-8", False, False)
        )
        rel = f"{self.dates[day - 1].isoformat()}/{entity.file_name}"
        self.files[key] = FileState(rel, columns, encoding, bom, crlf)
        return self.files[key], True

    def _write_file(self, day: int, entity: c.Entity) -> None:
        """Write the block's chunk of one entity file of one day and record its truth rows."""
        extract = self.dates[day - 1]
        state, first = self._state(day, entity)
        columns, rel, bom = state.columns, state.rel, state.bom and first
        clean = self._clean_rows(day, entity)
        kinds = plan_defects(entity, len(clean), day, self.rng)
        templates = self._templates(entity, clean) if kinds else []
        dirty = [
            row
            for kind in kinds
            if templates
            for row in make_dirty(entity, kind, templates, extract, self.rng, self.keys)
        ]
        low = 1 if bom and len(clean) else 0  # the BOM file's first data row stays clean (a tricky value)
        positions = self.rng.integers(low, len(clean) + 1, len(dirty))
        written = self.writer.write(
            entity, self.out_dir / rel, clean, dirty, positions, columns, state.encoding, bom, state.crlf,
            header=first, first_line=state.records + 2, digest=state.digest,
        )
        state.records += written.rows
        lines = written.clean_lines

        truth = self.truth
        for row, line in zip(dirty, written.dirty_lines, strict=True):
            truth.dirty_rows.append((entity.name, rel, line, row.defect, row.column, ""))
        if "_release" in clean:
            for i in np.flatnonzero(clean["_release"].to_numpy() > 0):
                released = self.dates[int(clean["_release"].iat[i]) - 1].isoformat()
                truth.dirty_rows.append(
                    (entity.name, rel, int(lines[i]), c.ORPHAN_FK, clean["_orphan_col"].iat[i], released)
                )
        if "_field_defect" in clean:
            for i in np.flatnonzero((clean["_field_defect"] != "").to_numpy()):
                kind = clean["_field_defect"].iat[i]
                key = fmt_id(ID_PREFIX["customers"], clean["customer_id"].iat[i])
                truth.dirty_fields.append((entity.name, key, FIELD_COLUMN[kind], kind, rel, int(lines[i])))
        found = find(entity.name, day, clean, self.rng)
        if columns != entity.column_names and len(clean):
            found.append((int(np.argmin(lines)), entity.key[0], "shuffled_column_order"))
        for i, column, trick in found:
            value = self.writer.format_rows(entity, clean.iloc[[i]])[0][column]
            truth.tricky.append((entity.name, rel, int(lines[i]), column, value, trick))

    def _templates(self, entity: c.Entity, clean: pd.DataFrame) -> list[dict]:
        """Formatted clean rows that dirty rows are copied from (no orphans, deletions, field defects)."""
        ok = np.ones(len(clean), dtype=bool)
        if "_release" in clean:
            ok &= (clean["_release"].to_numpy() == 0) & ~clean["is_deleted"].to_numpy()
        if "_field_defect" in clean:  # customers: only plain singletons (no duplicates or look-alikes)
            ok &= (clean["_field_defect"] == "").to_numpy() & (clean["_role"] == "single").to_numpy()
        idx = np.flatnonzero(ok)
        pick = np.sort(self.rng.choice(idx, size=min(TEMPLATES_PER_FILE, len(idx)), replace=False))
        return self.writer.format_rows(entity, clean.iloc[pick])


def _safe_customers(cust_versions: pd.DataFrame, day: int) -> np.ndarray:
    """Customer ids loaded by `day` and never deleted (parents for fresh composite keys)."""
    deleted = cust_versions.loc[cust_versions["is_deleted"].to_numpy(), "customer_id"].to_numpy()
    ok = (cust_versions["_day"].to_numpy() <= day) & ~cust_versions["customer_id"].isin(deleted).to_numpy()
    return np.unique(cust_versions.loc[ok, "customer_id"].to_numpy())


def _key_sorted(clean: pd.DataFrame, key: tuple[str, ...]) -> pd.DataFrame:
    """Rows ordered by key (a no-op for the already ordered bulk of day 1)."""
    order = np.lexsort([clean[k].to_numpy() for k in reversed(key)])
    if (np.diff(order) > 0).all():
        return clean.reset_index(drop=True)
    return clean.iloc[order].reset_index(drop=True)
