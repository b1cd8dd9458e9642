"""The landing folder: which nightly extracts are complete, and what their manifests promise.

Layout: `<landing>/<YYYY-MM-DD>/<entity>.csv` (or `.csv.gz`) plus `_manifest.json`, written last.
A folder without a manifest is still being delivered and is ignored.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from orchestration import contract
from orchestration.errors import CrmWarehouseError

_DATE_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class ExtractFile:
    extract_date: date
    entity: str
    path: Path
    encoding: str
    expected_rows: int | None
    expected_sha256: str | None

    @property
    def relative_name(self) -> str:
        """How the file is named in lineage columns and reports: `<date>/<file name>`."""
        return f"{self.extract_date.isoformat()}/{self.path.name}"


@dataclass(frozen=True)
class Extract:
    extract_date: date
    folder: Path
    files: tuple[ExtractFile, ...]


def complete_extract_dates(landing_dir: Path) -> list[date]:
    """Dates of the extract folders that have a manifest, oldest first."""
    if not landing_dir.is_dir():
        return []
    dates = []
    for child in landing_dir.iterdir():
        if child.is_dir() and _DATE_DIR.match(child.name) and (child / contract.MANIFEST_NAME).is_file():
            try:
                dates.append(date.fromisoformat(child.name))
            except ValueError:
                continue
    return sorted(dates)


def skipped_folder_warnings(landing_dir: Path) -> list[str]:
    """One warning per landing folder that is not loaded: a date folder without `_manifest.json` (still
    being delivered?), a folder whose name is not an extract date. Folders named `_*` or `.*` (e.g. the
    generator's `_truth/`) are not extracts and are passed over silently."""
    if not landing_dir.is_dir():
        return []
    warnings = []
    for child in sorted(landing_dir.iterdir()):
        if not child.is_dir() or child.name.startswith(("_", ".")):
            continue
        try:
            is_date = bool(_DATE_DIR.match(child.name)) and date.fromisoformat(child.name) is not None
        except ValueError:
            is_date = False
        if not is_date:
            warnings.append(f"{child}: folder name is not an extract date (YYYY-MM-DD), skipped")
        elif not (child / contract.MANIFEST_NAME).is_file():
            warnings.append(f"{child}: no {contract.MANIFEST_NAME} yet, skipped (still being delivered?)")
    return warnings


def read_extract(landing_dir: Path, extract_date: date) -> Extract:
    """Parse and check one folder's manifest; every problem names the manifest file."""
    folder = landing_dir / extract_date.isoformat()
    manifest_path = folder / contract.MANIFEST_NAME
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CrmWarehouseError(f"{manifest_path}: no manifest, the extract is not complete yet") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CrmWarehouseError(f"{manifest_path}: not valid JSON ({exc})") from None

    files: list[ExtractFile] = []
    seen: set[str] = set()
    for i, item in enumerate(manifest.get("files", [])):
        where = f"{manifest_path}: files[{i}]"
        name = item.get("file")
        entity_name = item.get("entity") or (name or "").split(".")[0]
        if entity_name not in contract.ENTITY_BY_NAME:
            raise CrmWarehouseError(
                f"{where}: unknown entity {entity_name!r}; expected one of {', '.join(contract.LOAD_ORDER)}"
            )
        if entity_name in seen:
            raise CrmWarehouseError(f"{where}: entity {entity_name!r} listed twice")
        seen.add(entity_name)
        if name not in (f"{entity_name}.csv", f"{entity_name}.csv.gz"):
            raise CrmWarehouseError(f"{where}: file name {name!r} must be {entity_name}.csv or .csv.gz")
        path = folder / name
        if not path.is_file():
            raise CrmWarehouseError(f"{path}: listed in the manifest but missing")
        encoding = str(item.get("encoding") or "utf-8").lower().replace("_", "-")
        if encoding == "utf8":
            encoding = "utf-8"
        if encoding not in contract.SUPPORTED_ENCODINGS:
            raise CrmWarehouseError(
                f"{where}: encoding {encoding!r} is not supported; use one of "
                f"{', '.join(contract.SUPPORTED_ENCODINGS)}"
            )
        rows = item.get("rows")
        files.append(
            ExtractFile(
                extract_date=extract_date,
                entity=entity_name,
                path=path,
                encoding=encoding,
                expected_rows=int(rows) if rows is not None else None,
                expected_sha256=item.get("sha256"),
            )
        )
    order = {name: i for i, name in enumerate(contract.LOAD_ORDER)}
    files.sort(key=lambda f: order[f.entity])
    return Extract(extract_date, folder, tuple(files))
