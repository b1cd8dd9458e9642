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
import subprocess
from dataclasses import dataclass
from datetime import date
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


def _refresh_manifest(day: Path, added: dict[str, int]) -> None:
    """Rewrite the manifest after a test changed files: every sha256, and `added[file]` more records."""
    manifest = json.loads((day / "_manifest.json").read_text(encoding="utf-8"))
    for item in manifest["files"]:
        item["sha256"] = _sha(day / item["file"])
        item["rows"] += added.get(item["file"], 0)
    (day / "_manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def _clean_record(day: Path, entity: str) -> int:
    """Index (in the file's rows, header = 0) of the first record the generator did not plant a defect in."""
    dirty = set()
    with (day.parent / "_truth" / "dirty_rows.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["file"] == f"{day.name}/{entity}.csv":
                dirty.add(int(row["line"]))
    return next(i for i in range(1, 1000) if i + 1 not in dirty)  # CSV line = index + 1 (no quoted newlines)


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

def _duplicate_clean_record(day: Path, entity: str) -> list[str]:
    """Append an identical copy of a clean record of `<entity>.csv`; return that record."""
    path = day / f"{entity}.csv"
    rows = _rows(path)
    record = rows[_clean_record(day, entity)]
    _write_rows(path, [*rows, record])
    return record


def test_identical_duplicate_rows_load_and_pass_the_raw_gate(landing: Path, tmp_path: Path):
    """The contract: the same record twice in one file is not a conflict, both load (staging keeps one,
    see the end-to-end test below); the raw gate must agree instead of refusing the night."""
    from expectations.runner import summary, validate_frame
    from orchestration.assets.checks import raw_frames
    from orchestration.raw.loader import load_new_extracts
    from orchestration.settings import load_settings

    day = _day(landing)
    dup_delta = _duplicate_clean_record(day, "communications")
    dup_snapshot = _duplicate_clean_record(day, "products")
    _refresh_manifest(day, {"communications.csv": 1, "products.csv": 1})
    settings = load_settings(landing, tmp_path / "warehouse")
    load_new_extracts(settings.landing_dir, settings.raw_root, settings.scratch_dir)

    for entity, record in (("communications", dup_delta), ("products", dup_snapshot)):
        frames = raw_frames(settings, entity, date.fromisoformat(day.name))
        rows = frames[0][1]
        assert (rows[rows.columns[0]] == record[0]).sum() == 2, f"{entity}: both copies are loaded"
        for suite, frame, _ in frames:
            outcome = validate_frame(frame, suite)
            assert outcome.success, summary(outcome)


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


# --- end to end through the CLI: a refused night, then its corrected re-delivery --------------------------

PLANTED_PRICE = "2500000.00"  # passes the loader (>= 0), fails the GX-only rule list_price <= 1 000 000
NO_CUSTOMER_ID = "M99999999"


@dataclass(frozen=True)
class Nights:
    landing: Path
    warehouse: Path
    day: str
    refused: subprocess.CompletedProcess  # `run` on the night with a planted out-of-range price
    raw_after_refused: list[str]  # files in the raw zone after it
    redelivered: subprocess.CompletedProcess  # `run` after the corrected products.csv was delivered again
    duplicate_id: str  # a communication delivered twice, byte-identical

    def published(self, sql: str, params: dict | None = None) -> list[tuple]:
        with duckdb.connect(str(self.warehouse / "crm.duckdb"), read_only=True) as con:
            return con.execute(sql, params or {}).fetchall()


@pytest.fixture(scope="module")
def nights(generated: Path, tmp_path_factory) -> Nights:
    """One night delivered with damage, run through the CLI like a user: an out-of-range product price (the
    raw gate refuses the night), an identical duplicate communication, a communication without customer,
    a next-day folder still being delivered (no manifest) and a stray folder; then products.csv corrected
    and delivered again, and `crm-warehouse run` once more."""
    root = tmp_path_factory.mktemp("nights")
    landing, warehouse = root / "landing", root / "warehouse"
    shutil.copytree(generated, landing)
    day = _day(landing)
    products = day / "products.csv"
    original_products = products.read_bytes()
    rows = _rows(products)
    rows[_clean_record(day, "products")][rows[0].index("list_price")] = PLANTED_PRICE
    _write_rows(products, rows)
    duplicate = _duplicate_clean_record(day, "communications")
    comms = _rows(day / "communications.csv")
    anonymous = list(duplicate)
    anonymous[comms[0].index("communication_id")] = NO_CUSTOMER_ID
    anonymous[comms[0].index("customer_id")] = ""
    _write_rows(day / "communications.csv", [*comms, anonymous])
    _refresh_manifest(day, {"communications.csv": 2})
    (landing / "2099-01-01").mkdir()  # still being delivered: files, no manifest yet
    shutil.copyfile(day / "sales_reps.csv", landing / "2099-01-01" / "sales_reps.csv")
    (landing / "incoming-tmp").mkdir()

    args = ("run", "--landing", str(landing), "--warehouse", str(warehouse))
    refused = run_cli(*args, check=False)
    raw_after = sorted(str(p.relative_to(warehouse / "raw")) for p in (warehouse / "raw").rglob("*") if p.is_file())
    products.write_bytes(original_products)  # the corrected re-delivery of the same day
    _refresh_manifest(day, {})
    redelivered = run_cli(*args, check=False)
    return Nights(landing, warehouse, day.name, refused, raw_after, redelivered, duplicate[0])


def _error_lines(proc: subprocess.CompletedProcess) -> list[str]:
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]


def test_refused_night_is_rolled_back_and_says_what_to_do(nights: Nights):
    assert nights.refused.returncode == 1
    (line,) = _error_lines(nights.refused)
    assert "quality gate raw/products failed" in line and "list_price" in line
    assert f"extract night {nights.day} refused and rolled back" in line
    assert "re-run `crm-warehouse run`" in line and "reload --date" not in line
    # the raw zone is as before the night (empty: it was the first), nothing published
    assert [f for f in nights.raw_after_refused if f.endswith(".parquet")] == [], nights.raw_after_refused
    assert not [f for f in nights.raw_after_refused if "uncommitted" in f]


def test_corrected_redelivery_of_a_refused_night_loads_with_a_plain_run(nights: Nights):
    assert nights.redelivered.returncode == 0, nights.redelivered.stderr[-3000:]
    files = nights.published("SELECT count(*), max(extract_date) FROM ops.load_audit")
    assert files == [(15, date.fromisoformat(nights.day))]
    (price,) = nights.published("SELECT max(list_price) FROM marts.dim_products")[0]
    assert price < float(PLANTED_PRICE)
    assert not (nights.warehouse / "raw" / "_meta" / "uncommitted").exists() or not list(
        (nights.warehouse / "raw" / "_meta" / "uncommitted").iterdir())


def test_staging_keeps_one_of_identical_duplicate_rows(nights: Nights):
    assert nights.redelivered.returncode == 0, nights.redelivered.stderr[-3000:]
    glob = str(nights.warehouse / "raw" / "communications" / "*" / "*.parquet")
    with duckdb.connect() as con:
        raw = con.execute("SELECT count(*) FROM read_parquet($g) WHERE communication_id = $id",
                          {"g": glob, "id": nights.duplicate_id}).fetchall()[0][0]
    with duckdb.connect(str(nights.warehouse / "work" / "crm_work.duckdb"), read_only=True) as con:
        staged = con.execute("SELECT count(*) FROM staging.stg_crm__communications WHERE communication_id = $id",
                             {"id": nights.duplicate_id}).fetchall()[0][0]
    assert (raw, staged) == (2, 1)
    assert nights.published("SELECT count(*) FROM marts.fct_communications WHERE communication_id = $id",
                            {"id": nights.duplicate_id}) == [(1,)]


def test_communication_without_customer_loads_builds_and_is_published(nights: Nights):
    assert nights.redelivered.returncode == 0, nights.redelivered.stderr[-3000:]
    rows = nights.published(
        "SELECT customer_id, master_customer_id, channel, response_minutes FROM marts.fct_communications "
        "WHERE communication_id = $id", {"id": NO_CUSTOMER_ID})
    assert len(rows) == 1 and rows[0][:2] == (None, None) and rows[0][3] is None, rows
    glob = str(nights.warehouse / "raw" / "communications" / "*" / "*.parquet")
    with duckdb.connect() as con:  # loaded, not quarantined (an empty customer_id is not an orphan)
        assert con.execute("SELECT count(*) FROM read_parquet($g) WHERE communication_id = $id AND customer_id "
                           "IS NULL", {"g": glob, "id": NO_CUSTOMER_ID}).fetchall() == [(1,)]


def test_folders_that_are_not_loaded_are_named_on_the_console_and_in_the_run_log(nights: Nights):
    no_manifest = f"{nights.landing / '2099-01-01'}: no _manifest.json yet, skipped (still being delivered?)"
    not_a_date = f"{nights.landing / 'incoming-tmp'}: folder name is not an extract date (YYYY-MM-DD), skipped"
    for proc in (nights.refused, nights.redelivered):
        warnings = [ln for ln in proc.stderr.splitlines() if ln.startswith("warning:")]
        assert warnings == [f"warning: {no_manifest}", f"warning: {not_a_date}"], proc.stderr[-2000:]
    log = next(ln for ln in nights.redelivered.stderr.splitlines() if ln.startswith("log: "))[len("log: "):]
    text = Path(log).read_text(encoding="utf-8", errors="replace")
    assert no_manifest in text and not_a_date in text  # the Dagster ingest step logged them too
