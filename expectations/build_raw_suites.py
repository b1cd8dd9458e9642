"""Generate the raw-zone suites from the extract contract: `python -m expectations.build_raw_suites`.

Two suites per contract entity, written to `expectations/suites/` and committed (a test checks that the
committed JSON equals what this script generates, so a contract change shows up as a diff here too):

* `raw.<entity>` (the rows of the raw zone): required columns present (schema), key columns not null,
  codes in their allowed set compared like the loader does (trimmed, any
  case: the raw zone keeps the original case), money and quantities non-negative, bounded values within
  bounds, lineage present, and a few stricter rules the loader does not enforce (`GX_ONLY_RULES`).
* `raw.<entity>.files` (one row per loaded extract file; see `orchestration/assets/checks.py`): at least
  one file, the newest extract at most `FRESHNESS_MAX_AGE_DAYS` before the run's as_of, the quarantine
  rate under its threshold, snapshot files not empty, the raw zone holding exactly the rows the audit
  says were loaded, and the same key/range rules computed in DuckDB over every row of the file (the row
  suite may only see a sample of a big entity). Key uniqueness lives here only, per file (a delta key
  legitimately repeats across files) and by content like the loader's conflicting_duplicate_key rule: a
  key with two different versions in one file fails, the same record twice does not (the contract loads
  both and staging keeps one), which a row expectation cannot tell apart.

`--check` exits 1 (listing the differing files) instead of writing.
"""

from __future__ import annotations

import argparse
import json
import re
import sys

from expectations import SUITES_DIR
from orchestration import contract

LINEAGE = ("_extract_date", "_source_file", "_source_line", "_loaded_at")
FRESHNESS_MAX_AGE_DAYS = 2  # newest extract of an entity vs the run's as_of
QUARANTINE_RATE_MAX = 0.05  # rows quarantined / rows in file, per file ...
QUARANTINE_RATE_BY_ENTITY: dict[str, float] = {}  # ... unless an entity needs its own threshold
QUARANTINE_RATE_MIN_ROWS = 500  # the rate is judged on files of at least this many rows; smaller files
SMALL_FILE_MAX_QUARANTINED = 25  # may hold up to this many quarantined rows (a rate of 1 in 9 is noise)

# Stricter than the contract (the loader accepts these rows; the gate stops the run). Keyed by
# (entity, column): extra kwargs merged into the column's expect_column_values_to_be_between, or a regex.
GX_ONLY_RULES: dict[tuple[str, str], dict] = {
    ("products", "list_price"): {"max_value": 1_000_000},
    ("order_items", "unit_price"): {"max_value": 1_000_000},
    ("order_items", "quantity"): {"max_value": 10_000},
    ("sales_targets", "period"): {"regex": r"^\d{4}-(0[1-9]|1[0-2])$"},
}


def _exp(kind: str, rule: str, **kwargs) -> dict:
    return {"type": kind, "kwargs": kwargs, "meta": {"rule": rule}}


def code_regex(codes: tuple[str, ...]) -> str:
    """Matches an allowed code like the loader compares it: lower(trim(value)) in the set."""
    return r"(?i)^\s*(?:" + "|".join(re.escape(c) for c in codes) + r")\s*$"


def _bounds(ent: contract.Entity, col: contract.Column) -> dict:
    """min_value/max_value of a column (contract + GX-only rules); {} when unbounded."""
    bounds: dict = {}
    if col.non_negative:
        bounds["min_value"] = 0
    if col.low is not None:
        bounds["min_value"] = col.low
    if col.high is not None:
        bounds["max_value"] = col.high
    extra = GX_ONLY_RULES.get((ent.name, col.name), {})
    bounds.update({k: v for k, v in extra.items() if k in ("min_value", "max_value")})
    return bounds


def _bound_rule(ent: contract.Entity, col: contract.Column) -> str:
    extra = GX_ONLY_RULES.get((ent.name, col.name), {})
    parts = []
    if col.non_negative:
        parts.append("contract: >= 0")
    if col.low is not None:
        parts.append(f"contract: {col.low:g} to {col.high:g}")
    if "max_value" in extra or "min_value" in extra:
        parts.append("GX-only: " + ", ".join(f"{k} {v}" for k, v in extra.items()))
    return "; ".join(parts)


def _meta(ent: contract.Entity, frame: str, index_columns: list[str]) -> dict:
    return {
        "crm_warehouse": {
            "asset": f"raw/{ent.name}",
            "frame": frame,
            "index_columns": index_columns,
            "generated_by": "expectations/build_raw_suites.py",
        }
    }


def rows_suite(ent: contract.Entity) -> dict:
    exps = [
        _exp(
            "expect_table_columns_to_match_set",
            "schema: every required contract column and the lineage columns are present (extra columns allowed)",
            column_set=[*ent.required_columns, *LINEAGE],
            exact_match=False,
        )
    ]
    for key in ent.key:
        exps.append(_exp("expect_column_values_to_not_be_null", "key column not null", column=key))
    for col in ent.columns:
        if col.codes:
            exps.append(
                _exp(
                    "expect_column_values_to_match_regex",
                    "allowed code (trimmed, any case, like the loader); empty allowed",
                    column=col.name,
                    regex=code_regex(col.codes),
                )
            )
        bounds = _bounds(ent, col)
        if bounds:
            exps.append(_exp("expect_column_values_to_be_between", _bound_rule(ent, col), column=col.name, **bounds))
        regex = GX_ONLY_RULES.get((ent.name, col.name), {}).get("regex")
        if regex:
            exps.append(_exp("expect_column_values_to_match_regex", "GX-only: format", column=col.name, regex=regex))
    exps += [
        _exp("expect_column_values_to_not_be_null", "lineage: extract date", column="_extract_date"),
        _exp("expect_column_values_to_not_be_null", "lineage: source file", column="_source_file"),
        _exp("expect_column_values_to_be_between", "lineage: CSV line (line 1 is the header)",
             column="_source_line", min_value=2),
    ]
    return {
        "name": f"raw.{ent.name}",
        "expectations": exps,
        "meta": _meta(ent, "rows", ["_source_file", "_source_line"]),
        "notes": f"Rows of the raw zone for `{ent.name}` ({ent.kind}, key {', '.join(ent.key)}).",
    }


def files_suite(ent: contract.Entity) -> dict:
    rate = QUARANTINE_RATE_BY_ENTITY.get(ent.name, QUARANTINE_RATE_MAX)
    exps = [
        _exp("expect_table_row_count_to_be_between", "at least one extract file loaded", min_value=1),
        _exp(
            "expect_column_min_to_be_between",
            f"freshness: the newest extract is at most {FRESHNESS_MAX_AGE_DAYS} days before the run's as_of",
            column="age_days",
            max_value=FRESHNESS_MAX_AGE_DAYS,
        ),
        _exp(
            "expect_column_values_to_be_between",
            f"quarantine rate (rows quarantined / rows in file, from the load audit) at most {rate:.0%} "
            f"for files of at least {QUARANTINE_RATE_MIN_ROWS} rows",
            column="quarantine_rate",
            max_value=rate,
            row_condition={
                "type": "comparison",
                "column": {"name": "rows_in_file"},
                "operator": ">=",
                "parameter": QUARANTINE_RATE_MIN_ROWS,
            },
        ),
        _exp(
            "expect_column_values_to_be_between",
            f"files under {QUARANTINE_RATE_MIN_ROWS} rows: at most {SMALL_FILE_MAX_QUARANTINED} rows quarantined",
            column="rows_quarantined",
            max_value=SMALL_FILE_MAX_QUARANTINED,
            row_condition={
                "type": "comparison",
                "column": {"name": "rows_in_file"},
                "operator": "<",
                "parameter": QUARANTINE_RATE_MIN_ROWS,
            },
        ),
        _exp(
            "expect_column_pair_values_to_be_equal",
            "reconciliation: the raw zone holds exactly the rows the load audit counts as loaded",
            column_A="rows_in_raw",
            column_B="rows_loaded",
        ),
    ]
    if ent.kind == contract.SNAPSHOT:
        exps.append(
            # a header-only snapshot is a legitimately empty list (a site may deliver an entity it has none of);
            # a snapshot with records of which none loaded would empty the list by accident: refused
            _exp("expect_column_values_to_be_between",
                 "a snapshot file with records loads at least one of them (a header-only file is an empty list)",
                 column="rows_loaded", min_value=1,
                 row_condition={"type": "comparison", "column": {"name": "rows_in_file"}, "operator": ">",
                                "parameter": 0})
        )
    for key in ent.key:
        exps.append(
            _exp("expect_column_values_to_be_between", "every row: key column not null",
                 column=f"null_count__{key}", max_value=0)
        )
    exps.append(
        _exp("expect_column_values_to_be_between",
             "every row: no key with two different versions in one file (identical duplicate rows are "
             "allowed: the contract loads both, staging keeps one)",
             column="conflict_count__" + "__".join(ent.key), max_value=0)
    )
    for col in ent.columns:
        bounds = _bounds(ent, col)
        if "min_value" in bounds:
            exps.append(_exp("expect_column_values_to_be_between", "every row: " + _bound_rule(ent, col),
                             column=f"min__{col.name}", min_value=bounds["min_value"]))
        if "max_value" in bounds:
            exps.append(_exp("expect_column_values_to_be_between", "every row: " + _bound_rule(ent, col),
                             column=f"max__{col.name}", max_value=bounds["max_value"]))
    return {
        "name": f"raw.{ent.name}.files",
        "expectations": exps,
        "meta": _meta(ent, "files", ["file"]),
        "notes": f"One row per loaded `{ent.name}` extract file: load audit counts and facts over all its rows.",
    }


def build() -> dict[str, dict]:
    """Suite name -> suite JSON for every contract entity."""
    out = {}
    for ent in contract.ENTITIES:
        for suite in (rows_suite(ent), files_suite(ent)):
            out[suite["name"]] = suite
    return out


def dumps(suite: dict) -> str:
    return json.dumps(suite, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m expectations.build_raw_suites",
        description="Write the GX suites of the raw zone from the extract contract (orchestration/contract/).",
    )
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 listing the suites that differ from the contract's")
    check = parser.parse_args(argv).check  # exits 0 on --help, 2 on an unknown option: nothing is written
    suites = build()
    SUITES_DIR.mkdir(parents=True, exist_ok=True)
    stale = []
    for name, suite in suites.items():
        path = SUITES_DIR / f"{name}.json"
        text = dumps(suite)
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(path)
        if not check:
            path.write_text(text, encoding="utf-8")
    for path in sorted(SUITES_DIR.glob("raw.*.json")):
        if path.name[: -len(".json")] not in suites:
            stale.append(path)
            if not check:
                path.unlink()
    if check and stale:
        print("raw suites out of date (run python -m expectations.build_raw_suites):", file=sys.stderr)
        for path in stale:
            print(f"  {path}", file=sys.stderr)
        return 1
    print(f"{len(suites)} raw suites in {SUITES_DIR} ({len(stale)} written)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
