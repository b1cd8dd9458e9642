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

import duckdb
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


# --- 1. identical duplicate rows ------------------------------------------------------------------------

def _duplicate_first_record(path: Path, encoding: str = "utf-8") -> list[str]:
    """Append a byte-identical copy of the file's first data record; return that record."""
    rows = _rows(path, encoding)
    _write_rows(path, [*rows, rows[1]], encoding)
    return rows[1]


def test_identical_duplicate_rows_load_and_pass_the_raw_gate(landing: Path, tmp_path: Path):
    """The contract: the same record twice in one file is not a conflict, both load (staging keeps one,
    see the end-to-end test below); the raw gate must agree instead of refusing the night."""
    from datetime import date

    from expectations.runner import validate_frame
    from orchestration.assets.checks import raw_frames
    from orchestration.raw.loader import load_new_extracts
    from orchestration.settings import load_settings

    day = _day(landing)
    dup_delta = _duplicate_first_record(day / "communications.csv")
    dup_snapshot = _duplicate_first_record(day / "products.csv")
    _refresh_manifest(day)
    settings = load_settings(landing, tmp_path / "warehouse")
    load_new_extracts(settings.landing_dir, settings.raw_root, settings.scratch_dir)

    for entity, record in (("communications", dup_delta), ("products", dup_snapshot)):
        frames = raw_frames(settings, entity, date.fromisoformat(day.name))
        rows = frames[0][1]
        assert (rows[rows.columns[0]] == record[0]).sum() == 2, f"{entity}: both copies are loaded"
        for suite, frame, _ in frames:
            outcome = validate_frame(frame, suite)
            assert outcome.success, outcome.summary()


def test_conflicting_duplicates_still_fail_the_files_fact():
    """Same key, different content in one file (the loader quarantines them; should one reach the raw zone,
    the gate counts it); same key and same content does not count."""
    from expectations import facts

    suite = {"expectations": [{"type": "x", "kwargs": {"column": "conflict_count__k"}}]}
    with duckdb.connect() as con:
        con.execute("CREATE TABLE t AS SELECT * FROM (VALUES ('a', 1, 'f1', 2), ('a', 1, 'f1', 3), "
                    "('b', 1, 'f1', 4), ('b', 2, 'f1', 5), ('b', 3, 'f1', 6), (NULL, 1, 'f1', 7)) "
                    "v(k, v, _source_file, _source_line)")
        items = facts.select_list(suite, ["k", "v", "_source_file", "_source_line"])
        assert con.execute(f"SELECT {', '.join(items)} FROM t").fetchall() == [(2,)]
