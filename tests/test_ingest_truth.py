"""The raw zone against the generator's planted truth, read from the published crm.duckdb."""

from __future__ import annotations

import duckdb
import pandas as pd

from orchestration import contract
from tests.conftest import Built

REASONS = set(contract.REASON_PRECEDENCE)


def _quarantine(built: Built) -> pd.DataFrame:
    q = built.query('SELECT entity, file, line, "column", reason, status, released_on FROM ops.quarantine')
    q["line"] = q["line"].astype(str)
    return q


def test_every_file_reconciles(built: Built):
    audit = built.query("SELECT * FROM ops.load_audit")
    manifest_files = sum(1 for _ in built.landing.glob("20*/*.csv*"))
    assert len(audit) == manifest_files
    assert (audit["rows_in_file"] == audit["rows_loaded"] + audit["rows_quarantined"]).all()
    assert audit["rows_quarantined"].sum() > 0
    assert audit["sha256"].str.fullmatch(r"[0-9a-f]{64}").all()


def test_raw_zone_row_counts_match_audit(built: Built):
    with duckdb.connect() as con:
        for ent in contract.ENTITIES:
            glob = str(built.warehouse / "raw" / ent.name / "*" / "*.parquet")
            rows = con.execute(
                "SELECT _source_file, count(*) FROM read_parquet($g) GROUP BY 1", {"g": glob}
            ).fetchall()
            loaded = dict(rows)
            audit = built.query(
                "SELECT file, rows_loaded FROM ops.load_audit WHERE entity = $e", {"e": ent.name}
            )
            for file, rows_loaded in zip(audit["file"], audit["rows_loaded"], strict=True):
                assert loaded.get(file, 0) == rows_loaded, (ent.name, file)


def test_planted_dirty_rows_are_quarantined_with_precision_and_recall_one(built: Built):
    truth = built.truth("dirty_rows")
    assert set(truth["defect"]) <= REASONS
    assert set(truth["defect"]) == REASONS, "the generator plants every reason code"
    q = _quarantine(built)
    merged = truth.merge(q, on=["entity", "file", "line"], how="outer", indicator=True)
    missed = merged[merged["_merge"] == "left_only"]
    unexpected = merged[merged["_merge"] == "right_only"]
    assert missed.empty, f"planted rows not quarantined:\n{missed.head(20)}"
    assert unexpected.empty, f"clean rows quarantined:\n{unexpected.head(20)}"
    wrong_reason = merged[merged["defect"] != merged["reason"]]
    assert wrong_reason.empty, f"planted rows with another reason:\n{wrong_reason.head(20)}"
    with_col = merged[merged["column_x"].fillna("") != ""]
    assert (with_col["column_x"] == with_col["column_y"]).all()


def test_late_arriving_orphans_are_released_and_loaded(built: Built):
    truth = built.truth("dirty_rows")
    late = truth[truth["released_on"] != ""]
    assert len(late) > 0, "days=3 plants late arrivals"
    q = _quarantine(built)
    got = late.merge(q, on=["entity", "file", "line"], suffixes=("_truth", ""))
    assert len(got) == len(late)
    assert (got["status"] == "released").all()
    assert (got["released_on"].astype(str) == got["released_on_truth"]).all()
    permanent = truth[(truth["defect"] == contract.ORPHAN_FK) & (truth["released_on"] == "")]
    still = permanent.merge(q, on=["entity", "file", "line"])
    assert (still["status"] == "quarantined").all()
    # released rows are in the raw zone with their original lineage
    with duckdb.connect() as con:
        for entity, rows in late.groupby("entity"):
            glob = str(built.warehouse / "raw" / entity / "*" / "*.parquet")
            found = con.execute(
                "SELECT count(*) FROM read_parquet($g) WHERE list_contains($keys, _source_file || ':' || _source_line)",
                {"g": glob, "keys": list(rows["file"] + ":" + rows["line"])},
            ).fetchall()[0][0]
            assert found == len(rows), entity


def test_field_defects_are_reported_and_nulled(built: Built):
    truth = built.truth("dirty_fields")
    assert set(truth["defect"]) == set(contract.FIELD_REASONS)
    issues = built.query('SELECT entity, key, "column", reason FROM ops.data_issues')
    merged = truth.merge(issues, on=["entity", "key", "column"], how="left")
    assert merged["reason"].notna().all(), merged[merged["reason"].isna()].head()
    assert (merged["reason"] == merged["defect"]).all()
    assert len(issues) == len(truth), "no clean field is flagged"
    # the field is nulled in the raw zone while the row is kept
    with duckdb.connect() as con:
        customers = con.execute(
            "SELECT customer_id, email, phone, birth_date, _source_file FROM read_parquet($g, union_by_name = true)",
            {"g": str(built.warehouse / "raw" / "customers" / "*" / "*.parquet")},
        ).df()
    for _, row in truth[truth["entity"] == "customers"].iterrows():
        hit = customers[(customers["customer_id"] == row["key"]) & (customers["_source_file"] == row["file"])]
        assert len(hit) == 1, row.to_dict()
        assert pd.isna(hit.iloc[0][row["column"]]), row.to_dict()


def test_tricky_but_valid_values_load_untouched(built: Built):
    truth = built.truth("tricky_clean")
    assert len(truth) >= 10
    assert set(truth["trick"]) >= {"bom", "crlf", "gbk"} or len(set(truth["trick"])) >= 5
    with duckdb.connect() as con:
        for _, row in truth.iterrows():
            ent = contract.entity(row["entity"])
            col = ent.column(row["column"])
            value = con.execute(
                f'SELECT CAST("{col.name}" AS VARCHAR) FROM read_parquet($g) '
                "WHERE _source_file = $f AND _source_line = $l",
                {"g": str(built.warehouse / "raw" / ent.name / "*" / "*.parquet"), "f": row["file"],
                 "l": int(row["line"])},
            ).fetchall()
            assert value == [(row["value"],)], row.to_dict()
    q = _quarantine(built)
    assert truth.merge(q, on=["entity", "file", "line"]).empty


def test_published_ops_tables_hold_no_raw_text(built: Built):
    cols = built.query(
        "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'ops' AND table_name = 'quarantine'"
    )["column_name"].tolist()
    assert "raw_text" not in cols and "detail" not in cols
    schemas = set(built.query("SELECT DISTINCT schema_name FROM duckdb_tables()")["schema_name"])
    assert "staging" not in schemas


# Re-running `run` on the same landing: tests/test_ops_crash.py::test_rerun_on_the_same_landing_changes_nothing
# (shares the re-run the crash test needs anyway).
