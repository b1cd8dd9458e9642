"""Write the imported extract: `DEST/<date>/<entity>.csv`, `_manifest.json` last, and `DEST/crm.yml`.

The folder is written under a temporary name (which the loader ignores: not a date), manifest last, and
then renamed into place, so a reader never sees a half-written extract. An existing `DEST/<date>` with the
same bytes is left as it is (re-running an import is a no-op); with different bytes the import stops unless
`--replace`. Files are written by DuckDB COPY in the generator's format (comma separated, minimal `"`
quoting, LF, NULL as an empty field) and the manifest has the generator's shape (rows, encoding, sha256).
"""

from __future__ import annotations

import filecmp
import hashlib
import json
import shutil
from datetime import date
from pathlib import Path

import duckdb
import yaml

from orchestration import contract
from orchestration.errors import CrmWarehouseError
from orchestration.importing.transform import EntityOutput
from orchestration.raw.sqlnames import quote

SITE_FILE_NAME = "crm.yml"


def _write_csv(con: duckdb.DuckDBPyConnection, out: EntityOutput, path: Path) -> dict:
    ent = contract.entity(out.entity)
    cols = ", ".join(quote(ent, c) for c in out.columns)
    con.execute(  # the path is a parameter; identifiers come from the contract
        f"COPY (SELECT {cols} FROM {out.table} ORDER BY _src, _rn) TO $path "
        "(HEADER, DELIMITER ',', QUOTE '\"', ESCAPE '\"')",
        {"path": str(path)},
    )
    data = path.read_bytes()
    return {
        "entity": ent.name,
        "file": ent.file_name,
        "rows": out.rows,
        "encoding": "utf-8",
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def _same_folder(a: Path, b: Path) -> list[str]:
    """Names of the files that differ between two folders (empty when byte-identical)."""
    names = sorted({p.name for p in a.iterdir()} | {p.name for p in b.iterdir()})
    return [n for n in names if not ((a / n).is_file() and (b / n).is_file()
                                     and filecmp.cmp(a / n, b / n, shallow=False))]


def write_extract(con: duckdb.DuckDBPyConnection, outputs: list[EntityOutput], dest: Path, day: date,
                  replace: bool) -> str:
    """Write the extract folder; returns `written`, `unchanged` or `replaced`."""
    final = dest / day.isoformat()
    tmp = dest / f".import-{day.isoformat()}.tmp"
    old = dest / f".import-{day.isoformat()}.old"
    dest.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        files = [_write_csv(con, out, tmp / contract.entity(out.entity).file_name) for out in outputs]
        manifest = {"extract_date": day.isoformat(), "files": files}
        (tmp / contract.MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        if final.exists():
            differ = _same_folder(tmp, final) if final.is_dir() else [final.name]
            if not differ:
                shutil.rmtree(tmp)
                return "unchanged"
            if not replace:
                raise CrmWarehouseError(
                    f"{final}: already holds a different extract (differs: {', '.join(differ)}); pass --replace "
                    f"to overwrite it (then `crm-warehouse reload --date {day.isoformat()}` if a warehouse "
                    "already loaded it), or import into another --date"
                )
            shutil.rmtree(old, ignore_errors=True)
            final.rename(old)
            tmp.rename(final)
            shutil.rmtree(old)
            return "replaced"
        tmp.rename(final)
        return "written"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def read_site_config(dest: Path) -> dict:
    """The existing `DEST/crm.yml` as a dict ({} when there is none)."""
    path = dest / SITE_FILE_NAME
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" line {mark.line + 1}, column {mark.column + 1}:" if mark else ""
        raise CrmWarehouseError(f"{path}:{at} not valid YAML ({getattr(exc, 'problem', exc)}); fix or remove it") from None
    if not isinstance(data, dict):
        raise CrmWarehouseError(f"{path}: expected a mapping (site, currency, entities); fix or remove it")
    return data


def check_site_currency(dest: Path, currency: str) -> None:
    """One landing folder is one site with one currency: an existing crm.yml must agree."""
    existing = read_site_config(dest).get("currency")
    if existing and str(existing).strip().upper() != currency:
        raise CrmWarehouseError(
            f"{dest / SITE_FILE_NAME}: currency is {existing} but the mapping says {currency}; one landing "
            "folder holds one site (import into another DEST or fix the mapping's currency)"
        )


def merge_site_config(dest: Path, site: str | None, currency: str, entities: list[str]) -> Path:
    """Write `DEST/crm.yml`: keep its other keys, set currency, add this export's entities (load order)."""
    path = dest / SITE_FILE_NAME
    data = read_site_config(dest)
    merged = dict(data)
    if site and not merged.get("site"):
        merged["site"] = site
    merged["currency"] = currency
    previous = data.get("entities")
    have = set(entities) | (set(previous) if isinstance(previous, list) else set())
    merged["entities"] = [e for e in contract.LOAD_ORDER if e in have]
    ordered = {k: merged[k] for k in ("site", "currency", "entities") if k in merged}
    ordered.update({k: v for k, v in merged.items() if k not in ordered})
    text = ("# site configuration (orchestration/site.py), written by `crm-warehouse import`\n"
            + yaml.safe_dump(ordered, sort_keys=False, allow_unicode=True, default_flow_style=None))
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return path
