"""Damaged inputs (issue 16, item 6): what a user sees when a delivery is damaged, and that the warehouse
keeps to the extract contract.

* identical duplicate rows (the same record twice in one file) load, pass the raw gate, staging keeps one;
* a night refused by a raw gate is rolled back (the raw zone is as before it) and a corrected re-delivery
  of the same day loads with a plain `crm-warehouse run`;
* a file cut inside a multi-byte character names file, line, column and byte offset;
* a landing folder without `_manifest.json` (or not named like a date) is named in a console warning;
* a communication without a customer loads, builds and is published.

One small landing (scale 0.01, one day) is generated once for the module and copied per test; the gate is
tested through the loader and the check's own frame function, the console and the refused night through
the CLI (one refused run and one run of the corrected re-delivery, shared by the end-to-end tests).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
from pathlib import Path

import pytest

from orchestration.errors import CrmWarehouseError
from tests.conftest import run_cli

SCALE, SEED = 0.01, 11


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _rows(path: Path, encoding: str = "utf-8") -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_bytes().decode(encoding), newline="")))


def _write_rows(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> None:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    path.write_bytes(out.getvalue().encode(encoding))


def _refresh_manifest(day: Path) -> None:
    """Rewrite the manifest's sha256 and row count of every file after a test changed it."""
    manifest = json.loads((day / "_manifest.json").read_text(encoding="utf-8"))
    for item in manifest["files"]:
        path = day / item["file"]
        item["sha256"] = _sha(path)
        item["rows"] = len(_rows(path, item.get("encoding") or "utf-8")) - 1
    (day / "_manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    """One small generated landing (one extract day) for the whole module; tests copy it."""
    out = tmp_path_factory.mktemp("damaged") / "landing"
    run_cli("generate", "--scale", str(SCALE), "--seed", str(SEED), "--days", "1", "--out", str(out))
    return out


@pytest.fixture
def landing(generated: Path, tmp_path: Path) -> Path:
    """A private copy of the generated landing."""
    dest = tmp_path / "landing"
    shutil.copytree(generated, dest)
    return dest


def _day(landing: Path) -> Path:
    return next(p for p in sorted(landing.iterdir()) if p.name[:2] == "20")


# --- 3. a file cut inside a multi-byte character --------------------------------------------------------

def test_file_cut_inside_a_multibyte_character_names_file_line_column_and_offset(tmp_path: Path):
    from orchestration.raw import transcode

    path = tmp_path / "2025-06-24" / "communications.csv"
    path.parent.mkdir()
    data = "communication_id,subject\nM1,ok\nM2,售后回访\n".encode()
    cut = data[: data.index("访".encode()) + 1]  # ends with the first byte of a three-byte character
    path.write_bytes(cut)
    with pytest.raises(CrmWarehouseError) as err:
        transcode.prepare(path, "utf-8", tmp_path / "scratch")
    message = str(err.value)
    line3 = cut.rindex(b"\n") + 1
    bad = len(cut) - 1
    assert message.startswith(f"{path}: line 3, column {bad - line3 + 1} (byte offset {bad})"), message
    assert "b''" not in message and r"b'\xe8'" in message
    assert "truncated" in message and "re-deliver" in message

    # a bad byte in the middle of a GBK file: the same place names, with the encoding to check
    gbk = tmp_path / "2025-06-24" / "customers.csv"
    gbk.write_bytes("customer_id,name\nC1,王伟\n".encode("gbk") + b"C2,\xff\xfe\n")
    with pytest.raises(CrmWarehouseError, match=r"line 3, column 4 \(byte offset \d+\): bytes b'\\xff' are not "
                       r"valid gbk.*encoding.*manifest"):
        transcode.prepare(gbk, "gbk", tmp_path / "scratch")
