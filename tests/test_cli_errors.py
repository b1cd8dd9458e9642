"""Bad input through the CLI: one clear line naming the file, no traceback, nothing published."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest

from orchestration.lock import warehouse_lock
from tests.conftest import Built, copy_built, run_cli


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _add_day(copy: Built, mutate) -> Path:
    """Add a new extract day (a copy of the newest one) with `mutate(folder)` applied, manifest rewritten."""
    days = sorted(p for p in copy.landing.iterdir() if p.name[:2] == "20")
    new = copy.landing / (date.fromisoformat(days[-1].name) + timedelta(days=1)).isoformat()
    shutil.copytree(days[-1], new)
    mutate(new)
    manifest = json.loads((new / "_manifest.json").read_text())
    manifest["extract_date"] = new.name
    for item in manifest["files"]:
        item["sha256"] = _sha(new / item["file"])
        item.pop("rows", None)
    (new / "_manifest.json").write_text(json.dumps(manifest))
    return new


def _drop_column(path: Path, column: str, encoding: str = "utf-8") -> None:
    import csv
    import io

    text = path.read_bytes().decode(encoding)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    idx = rows[0].index(column)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([r[:idx] + r[idx + 1:] for r in rows])
    path.write_bytes(out.getvalue().encode(encoding))


def _one_line_error(proc) -> str:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    return errors[0]


def test_missing_required_column_fails_cleanly_and_keeps_published_file(built: Built, tmp_path):
    copy = copy_built(built, tmp_path)
    before = _sha(copy.published)
    new = _add_day(copy, lambda folder: _drop_column(folder / "orders.csv", "order_date"))
    proc = run_cli("run", "--landing", str(copy.landing), "--warehouse", str(copy.warehouse), check=False)
    line = _one_line_error(proc)
    assert f"{new.name}/orders.csv" in line and "'order_date'" in line
    assert _sha(copy.published) == before
    # nothing of the broken day reached the raw zone
    assert not list((copy.warehouse / "raw").rglob(f"_batch={new.name}/*.parquet"))


def test_changed_file_under_loaded_name_is_an_error_and_reload_replaces_it(built: Built, tmp_path):
    copy = copy_built(built, tmp_path)
    day = sorted(p for p in copy.landing.iterdir() if p.name[:2] == "20")[-1]
    products = day / "products.csv"
    lines = products.read_bytes().splitlines(keepends=True)
    products.write_bytes(b"".join(lines[:-1]))  # a corrected file: one product fewer
    manifest = json.loads((day / "_manifest.json").read_text())
    for item in manifest["files"]:
        if item["file"] == "products.csv":
            item["sha256"], item["rows"] = _sha(products), item["rows"] - 1
    (day / "_manifest.json").write_text(json.dumps(manifest))
    before = _sha(copy.published)
    proc = run_cli("run", "--landing", str(copy.landing), "--warehouse", str(copy.warehouse), check=False)
    line = _one_line_error(proc)
    assert f"{day.name}/products.csv" in line and "reload --date" in line
    assert _sha(copy.published) == before

    run_cli("reload", "--date", day.name, "--landing", str(copy.landing), "--warehouse", str(copy.warehouse))
    audit = copy.query(
        "SELECT rows_in_file, rows_loaded, rows_quarantined FROM ops.load_audit WHERE file = $f",
        {"f": f"{day.name}/products.csv"},
    )
    assert len(audit) == 1 and audit["rows_in_file"][0] == manifest_rows(day, "products.csv")
    assert (audit["rows_in_file"] == audit["rows_loaded"] + audit["rows_quarantined"]).all()


def manifest_rows(day: Path, name: str) -> int:
    return next(i["rows"] for i in json.loads((day / "_manifest.json").read_text())["files"] if i["file"] == name)


def test_undecodable_bytes_name_file_line_and_offset(built: Built, tmp_path):
    copy = copy_built(built, tmp_path)

    def corrupt(folder: Path) -> None:
        path = folder / "sales_reps.csv"
        data = path.read_bytes().split(b"\n")
        data[2] = data[2] + b"\xff\xfe"
        path.write_bytes(b"\n".join(data))

    new = _add_day(copy, corrupt)
    before = _sha(copy.published)
    proc = run_cli("run", "--landing", str(copy.landing), "--warehouse", str(copy.warehouse), check=False)
    line = _one_line_error(proc)
    assert f"{new.name}/sales_reps.csv" in line and "line 3" in line and "byte offset" in line
    assert _sha(copy.published) == before


def test_second_writer_exits_at_once_naming_the_first(built: Built, tmp_path):
    copy = copy_built(built, tmp_path)
    with warehouse_lock(copy.warehouse / ".crm-warehouse.lock", "test holder"):
        proc = run_cli("run", "--landing", str(copy.landing), "--warehouse", str(copy.warehouse), check=False)
    line = _one_line_error(proc)
    assert "busy" in line and "test holder" in line


@pytest.mark.parametrize("args", [["--help"], ["generate", "--help"], ["run", "--help"], ["reload", "--help"],
                                  ["demo", "--help"]])
def test_help_explains_every_option(args):
    proc = run_cli(*args)
    assert "Usage" in proc.stdout
    if args != ["--help"]:
        assert proc.stdout.count("--") >= 2
