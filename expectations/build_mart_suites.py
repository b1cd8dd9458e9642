"""Generate the mart suites from the dbt manifest: `python -m expectations.build_mart_suites [MODEL ...]`.

Two suites per model under `models/marts/` (written to `expectations/suites/`, committed):

* `marts.<model>` (its rows; a sample when big): the documented columns are present (extra columns
  allowed), `not_null` / `unique` / `accepted_values` / `unique_combination` tests of the model's yml
  as expectations, value ranges from the naming rules below (counts and money never negative, percents,
  rates and scores within their scale), formats of non-personal columns (period YYYY-MM).
* `marts.<model>.facts` (one row of aggregates over every row, see expectations.facts): at least
  `MIN_ROWS` rows, no NULL / duplicate keys, min/max within the same ranges, `*_hash` columns holding
  only hex HMACs (a count: a plaintext value that leaked into a hash column never reaches Data Docs).

The dbt tests run inside `dbt build` too; the GX suites are the blocking gate in front of the publish,
with Data Docs, and add what dbt does not check (ranges, formats, row counts).

Marts are still being added: with no MODEL the script writes every mart of the manifest (run `make
parse` first when the yml changed); `--missing` writes only marts without a suite; `--check` writes
nothing and exits 1 when a suite is missing or differs from what the manifest gives now.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from expectations import SUITES_DIR

MANIFEST = Path(__file__).resolve().parents[1] / "dbt_project" / "target" / "manifest.json"
MIN_ROWS: dict[str, int] = {}  # model -> minimum row count (default 1: a published mart is never empty)

# Ranges by column name, first match wins: (regex, data types it applies to, bounds, rule).
NUMERIC = ("integer", "bigint", "smallint", "hugeint", "double", "float", "real", "decimal", "numeric")
RANGE_RULES: tuple[tuple[str, tuple[str, ...], dict, str], ...] = (
    (r"^(satisfaction_score|csat_target)$", NUMERIC, {"min_value": 1, "max_value": 5}, "score on a 1-5 scale"),
    (r"^(discount|win_rate|converted)$", NUMERIC, {"min_value": 0, "max_value": 1}, "a fraction / flag in 0-1"),
    (r"^(progress_pct|schedule_elapsed_pct)$", NUMERIC, {"min_value": 0, "max_value": 100}, "a percent 0-100"),
    (r"_pct$", NUMERIC, {"min_value": 0}, "a percent is not negative (may exceed 100)"),
    (r"(^n_|_count($|_)|units$|^quantity$|_members$|^referrals_|^network_size$|^records_in_group$"
     r"|^source_records_merged$|_orders$|^opportunities_(won|lost)$|_days$|_target_(minutes|hours)$"
     r"|^period_number$|^versions_in_period$|^line_no$)", NUMERIC, {"min_value": 0}, "a count is not negative"),
    (r"(amount|revenue|spend|budget|price|lifetime_value)$", ("decimal",), {"min_value": 0},
     "money is not negative"),
)
# Stricter rules for single columns (model, column) -> bounds, merged over the naming rules.
GX_ONLY_RULES: dict[tuple[str, str], dict] = {
    ("dim_products", "list_price"): {"max_value": 1_000_000},
    ("fct_order_items", "unit_price"): {"max_value": 1_000_000},
}
FORMAT_RULES: tuple[tuple[str, str, str], ...] = (  # row expectations: only for columns without personal data
    (r"^period$", r"^\d{4}-(0[1-9]|1[0-2])$", "a month as YYYY-MM"),
)
HASH_COLUMNS = r"_hash$"  # keyed hashes of personal data: format counted in DuckDB (facts), values never shown


def _exp(kind: str, rule: str, **kwargs) -> dict:
    return {"type": kind, "kwargs": kwargs, "meta": {"rule": rule}}


def mart_models(manifest: dict) -> dict[str, dict]:
    """name -> manifest node of every model under models/marts/."""
    return {
        n["name"]: n
        for n in manifest.get("nodes", {}).values()
        if n.get("resource_type") == "model" and (n.get("config", {}).get("schema") == "marts")
    }


def model_tests(manifest: dict, node: dict) -> list[tuple[str, str | None, dict]]:
    """(test name, column, kwargs) of the generic tests attached to a model."""
    out = []
    for t in manifest.get("nodes", {}).values():
        if t.get("resource_type") != "test" or t.get("attached_node") != node["unique_id"]:
            continue
        if str((t.get("config") or {}).get("severity", "error")).lower() == "warn":
            continue  # a warning-level dbt test flags a data issue; it is no blocking gate
        meta = t.get("test_metadata") or {}
        if meta.get("name"):
            out.append((meta["name"], t.get("column_name"), meta.get("kwargs", {})))
    return sorted(out, key=lambda x: (x[0], x[1] or "", json.dumps(x[2], sort_keys=True, default=str)))


def column_bounds(model: str, column: str, data_type: str) -> tuple[dict, str]:
    base = (data_type or "").lower().split("(")[0].strip()
    bounds, rule = {}, ""
    for pattern, types, b, why in RANGE_RULES:
        if base in types and re.search(pattern, column):
            bounds, rule = dict(b), why
            break
    extra = GX_ONLY_RULES.get((model, column))
    if extra:
        bounds.update(extra)
        rule = (rule + "; " if rule else "") + "GX-only: " + ", ".join(f"{k} {v}" for k, v in extra.items())
    return bounds, rule


def suites_for(manifest: dict, node: dict) -> tuple[dict, dict]:
    model = node["name"]
    columns = node.get("columns", {})
    tests = model_tests(manifest, node)
    rows = [
        _exp("expect_table_columns_to_match_set", "schema: the documented columns are present (extra allowed)",
             column_set=list(columns), exact_match=False)
    ]
    facts = [
        _exp("expect_column_values_to_be_between", "row count: a published mart is not empty",
             column="row_count", min_value=MIN_ROWS.get(model, 1))
    ]
    keys: list[list[str]] = []
    for name, column, kwargs in tests:
        if name == "not_null" and column:
            rows.append(_exp("expect_column_values_to_not_be_null", "dbt not_null test", column=column))
            facts.append(_exp("expect_column_values_to_be_between", "every row: not null (dbt not_null)",
                              column=f"null_count__{column}", max_value=0))
        elif name == "unique" and column:
            rows.append(_exp("expect_column_values_to_be_unique", "dbt unique test (key)", column=column))
            keys.append([column])
        elif name == "accepted_values" and column:
            values = kwargs.get("values") or []
            rows.append(_exp("expect_column_values_to_be_in_set", "dbt accepted_values test", column=column,
                             value_set=list(values)))
        elif name in ("unique_combination", "unique_combination_of_columns"):
            cols = kwargs.get("combination") or kwargs.get("combination_of_columns") or []
            if len(cols) > 1:
                rows.append(_exp("expect_compound_columns_to_be_unique", "dbt unique_combination test (grain)",
                                 column_list=list(cols)))
                keys.append(list(cols))
    for cols in keys:
        facts.append(_exp("expect_column_values_to_be_between", "every row: the grain is unique",
                          column="duplicate_count__" + "__".join(cols), max_value=0))
    for column, spec in columns.items():
        bounds, rule = column_bounds(model, column, spec.get("data_type") or "")
        if bounds:
            rows.append(_exp("expect_column_values_to_be_between", rule, column=column, **bounds))
            if "min_value" in bounds:
                facts.append(_exp("expect_column_values_to_be_between", "every row: " + rule,
                                  column=f"min__{column}", min_value=bounds["min_value"]))
            if "max_value" in bounds:
                facts.append(_exp("expect_column_values_to_be_between", "every row: " + rule,
                                  column=f"max__{column}", max_value=bounds["max_value"]))
        if re.search(HASH_COLUMNS, column):
            facts.append(_exp("expect_column_values_to_be_between",
                              "every row: a keyed hash (64 hex digits), never a plaintext value (counted, so a "
                              "leaked value never reaches Data Docs)", column=f"not_hash_count__{column}", max_value=0))
        for pattern, regex, why in FORMAT_RULES:
            if re.search(pattern, column) and (spec.get("data_type") or "").lower().startswith("varchar"):
                rows.append(_exp("expect_column_values_to_match_regex", "format: " + why, column=column,
                                 regex=regex))
                break
    index = keys[0] if keys else []
    meta = {
        "asset": f"marts/{model}",
        "generated_by": "expectations/build_mart_suites.py",
        "dbt_model": node["unique_id"],
    }
    grain = (node.get("description") or "").split("Grain:", 1)
    notes = ("Grain:" + grain[1].strip().split("\n")[0]) if len(grain) == 2 else node.get("description", "")
    return (
        {"name": f"marts.{model}", "expectations": rows,
         "meta": {"crm_warehouse": {**meta, "frame": "rows", "index_columns": index}}, "notes": notes.strip()},
        {"name": f"marts.{model}.facts", "expectations": facts,
         "meta": {"crm_warehouse": {**meta, "frame": "facts", "index_columns": []}},
         "notes": f"Aggregates over every row of marts.{model}."},
    )


def build(manifest: dict | None = None) -> dict[str, dict]:
    """Suite name -> suite JSON for every mart model in the manifest."""
    manifest = manifest if manifest is not None else json.loads(MANIFEST.read_text(encoding="utf-8"))
    out = {}
    for _model, node in sorted(mart_models(manifest).items()):
        for suite in suites_for(manifest, node):
            out[suite["name"]] = suite
    return out


def dumps(suite: dict) -> str:
    return json.dumps(suite, indent=2, ensure_ascii=False, default=str) + "\n"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m expectations.build_mart_suites",
        description="Write the GX suites of the dbt mart models (from dbt_project/target/manifest.json).",
    )
    parser.add_argument("models", nargs="*", metavar="MODEL", help="only these marts (default: every mart)")
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--missing", action="store_true", help="write only marts that have no suite yet")
    what.add_argument("--check", action="store_true",
                      help="write nothing; exit 1 when a suite is missing or differs from the manifest's")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)  # exits 0 on --help, 2 on an unknown option: nothing is written then
    if not MANIFEST.exists():
        print(f"{MANIFEST} missing: run `make parse` (dbt parse) first", file=sys.stderr)
        return 1
    suites = build()
    models = args.models
    unknown = [m for m in models if f"marts.{m}" not in suites]
    if unknown:
        print(f"not mart models in the manifest: {', '.join(unknown)}", file=sys.stderr)
        return 1
    wanted = {n: s for n, s in suites.items() if not models or n.split(".")[1] in models}
    changed = []
    for name, suite in wanted.items():
        path = SUITES_DIR / f"{name}.json"
        if args.missing and path.exists():
            continue
        if path.exists() and path.read_text(encoding="utf-8") == dumps(suite):
            continue
        changed.append(path)
        if not args.check:
            path.write_text(dumps(suite), encoding="utf-8")
    if args.check:
        for path in changed:
            print(f"{'differs' if path.exists() else 'missing'}: {path}", file=sys.stderr)
        return 1 if changed else 0
    print(f"{len(wanted)} mart suites considered, {len(changed)} written to {SUITES_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
