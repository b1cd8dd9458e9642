"""Great Expectations quality gates: the JSON suites, the runner, the blocking Dagster asset checks, and
acceptance 4 end to end (a planted out-of-range batch blocks the publish; the failure is recorded)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import warnings
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from expectations import SUITES_DIR, build_mart_suites, build_raw_suites, facts
from expectations.runner import load_suite, suite_names
from orchestration import contract
from tests.conftest import Built, copy_built, run_cli

PLANTED_PRICE = "2500000.00"  # the loader accepts it (>= 0); the GX-only rule list_price <= 1 000 000 does not


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _manifest() -> dict:
    return json.loads(build_mart_suites.MANIFEST.read_text(encoding="utf-8"))


# --- suites ------------------------------------------------------------------------------------------

def test_raw_suites_are_in_sync_with_the_contract():
    expected = build_raw_suites.build()
    on_disk = {p.name[: -len(".json")] for p in SUITES_DIR.glob("raw.*.json")}
    assert on_disk == set(expected), "regenerate: python -m expectations.build_raw_suites"
    for name, suite in expected.items():
        text = (SUITES_DIR / f"{name}.json").read_text(encoding="utf-8")
        assert text == build_raw_suites.dumps(suite), f"{name} is stale: python -m expectations.build_raw_suites"
    assert {f"raw.{e.name}" for e in contract.ENTITIES} <= set(expected)


def test_every_suite_is_valid_gx_json_named_like_its_file():
    from expectations.runner import to_gx_suite  # imports great_expectations (slow, once)

    names = suite_names()
    assert names
    for name in names:
        suite = load_suite(name)
        assert suite["name"] == name
        gx_suite = to_gx_suite(suite)  # raises if GX drops an invalid expectation
        assert len(gx_suite.expectations) == len(suite["expectations"]) > 0
        meta = suite["meta"]["crm_warehouse"]
        assert meta["asset"].split("/")[0] in ("raw", "marts") and meta["frame"] in ("rows", "files", "facts")


def test_mart_suites_name_only_columns_the_model_has():
    """A stale mart suite would fail every run at the publish gate: say which column to fix."""
    models = build_mart_suites.mart_models(_manifest())
    for name in suite_names():
        if not name.startswith("marts."):
            continue
        model = name.split(".")[1]
        assert model in models, f"{name}: no mart model {model!r} in the dbt manifest (delete the suite)"
        columns = set(models[model]["columns"])
        for col in facts.columns_of(load_suite(name)):
            parsed = facts.parse(col) if name.endswith(".facts") else ("column", [col])
            assert parsed is not None, f"{name}: {col!r} is not a facts column"
            missing = set(parsed[1]) - columns
            assert not missing, f"{name} names {sorted(missing)}, not documented columns of {model}: " \
                                f"python -m expectations.build_mart_suites {model}"


def test_marts_without_a_suite_are_reported_not_failed():
    """Marts are still being added: a mart without a suite (or whose suite differs from what the manifest
    would generate now) is listed as a warning, so the gap is visible without failing the build."""
    from orchestration.assets.checks import MART_CHECKS, marts_with_suites, marts_without_suites

    generated = build_mart_suites.build(_manifest())
    missing = marts_without_suites()
    drifted = [
        n for n, s in generated.items()
        if (SUITES_DIR / f"{n}.json").exists()
        and (SUITES_DIR / f"{n}.json").read_text(encoding="utf-8") != build_mart_suites.dumps(s)
    ]
    if missing or drifted:
        warnings.warn(
            f"marts without a GX suite: {missing or 'none'}; mart suites differing from the manifest: "
            f"{drifted or 'none'} (python -m expectations.build_mart_suites [MODEL])",
            stacklevel=1,
        )
    assert len(MART_CHECKS) == len(marts_with_suites())


@pytest.mark.parametrize("script", [build_mart_suites, build_raw_suites])
def test_suite_scripts_check_without_writing_and_reject_unknown_options(script, capsys):
    """`--check` reports the committed suites in sync; `--help` and an unknown option exit before writing."""
    before = {p.name: p.stat().st_mtime_ns for p in SUITES_DIR.glob("*.json")}
    assert script.main(["--check"]) == 0
    for argv, code in ((["--help"], 0), (["--no-such-option"], 2)):
        with pytest.raises(SystemExit) as exit_info:
            script.main(argv)
        assert exit_info.value.code == code
    assert "usage: python -m expectations." in capsys.readouterr().out
    assert {p.name: p.stat().st_mtime_ns for p in SUITES_DIR.glob("*.json")} == before


def test_facts_sql_counts_nulls_duplicates_and_bounds():
    suite = {"expectations": [
        {"type": "x", "kwargs": {"column": "row_count"}},
        {"type": "x", "kwargs": {"column": "null_count__k"}},
        {"type": "x", "kwargs": {"column": "duplicate_count__k__f"}},
        {"type": "x", "kwargs": {"column": "max__v"}},
        {"type": "x", "kwargs": {"column": "rows_in_file"}},  # not a fact: left to the caller
    ]}
    with duckdb.connect() as con:
        con.execute("CREATE TABLE t AS SELECT * FROM (VALUES ('a', 'f1', 1), ('a', 'f1', 2), ('a', 'f2', 3), "
                    "(NULL, 'f1', 9)) v(k, f, v)")
        items = facts.select_list(suite, ["k", "f", "v"])
        row = con.execute(f"SELECT {', '.join(items)} FROM t").df().iloc[0].to_dict()
    assert row == {"row_count": 4, "null_count__k": 1, "duplicate_count__k__f": 1, "max__v": 9}
    with pytest.raises(ValueError, match="not a column"):
        facts.select_list({"expectations": [{"type": "x", "kwargs": {"column": "min__nope"}}]}, ["k"])


def test_checks_are_blocking_and_cover_every_raw_entity_and_mart_suite():
    from orchestration.assets.checks import ASSET_CHECKS, CHECK_NAME, marts_with_suites
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    ours = {k.asset_key: k for k in graph.asset_check_keys if k.name == CHECK_NAME}
    expected = {dg.AssetKey(["raw", e.name]) for e in contract.ENTITIES}
    expected |= {dg.AssetKey(["marts", m]) for m in marts_with_suites()}
    assert set(ours) == expected
    specs = [spec for checks in ASSET_CHECKS for spec in checks.check_specs]
    assert {s.asset_key for s in specs} == expected and all(s.blocking for s in specs)


# --- the runner on frames ----------------------------------------------------------------------------

def _raw_frame(built: Built, entity: str) -> pd.DataFrame:
    glob = str(built.warehouse / "raw" / entity / "*" / "*.parquet")
    with duckdb.connect() as con:
        return con.read_parquet(glob, hive_partitioning=True, union_by_name=True).df().drop(columns="_batch")


def test_runner_passes_clean_frames_and_names_the_failing_expectation(built: Built):
    from expectations.runner import validate_frame

    orders = _raw_frame(built, "orders")
    clean = validate_frame(orders, "raw.orders")
    assert clean.success and clean.evaluated == len(load_suite("raw.orders")["expectations"]), clean.summary()

    bad = orders.copy()
    bad.loc[bad.index[0], "channel"] = "fax"  # an unknown code
    bad.loc[bad.index[1], "channel"] = "  WEB "  # original case and padding are fine, like the loader
    bad = pd.concat([bad, bad.iloc[[2]]])  # the same record twice in one file: no conflict (contract)
    outcome = validate_frame(bad, "raw.orders")
    assert not outcome.success
    failed = {(f.expectation, f.column) for f in outcome.failed}
    assert failed == {("expect_column_values_to_match_regex", "channel")}, outcome.summary()
    code = next(f for f in outcome.failed if f.column == "channel")
    assert code.unexpected_examples == ["fax"] and code.rule.startswith("allowed code")
    assert f"_source_line={orders['_source_line'].iloc[0]}" in code.where[0]

    products = _raw_frame(built, "products")
    products.loc[products.index[0], "list_price"] = float(PLANTED_PRICE)  # passes the loader (>= 0)
    outcome = validate_frame(products, "raw.products")
    assert [(f.expectation, f.column) for f in outcome.failed] == [("expect_column_values_to_be_between", "list_price")]
    assert "GX-only" in outcome.failed[0].rule and "2500000" in outcome.failed[0].summary()


def test_files_suite_gates_freshness_and_quarantine_rate(built: Built):
    from expectations.runner import validate_frame
    from orchestration.assets.checks import raw_frames
    from orchestration.settings import load_settings

    settings = load_settings(built.landing, built.warehouse)
    newest = max(date.fromisoformat(p.name) for p in built.landing.iterdir() if p.name[:2] == "20")
    (_, _, _), (suite, files, _) = raw_frames(settings, "orders", newest)
    assert validate_frame(files, suite).success
    assert (files["rows_in_raw"] == files["rows_loaded"]).all()

    (_, _, _), (_, stale, _) = raw_frames(settings, "orders", newest + timedelta(days=5))
    outcome = validate_frame(stale, suite)
    assert [(f.expectation, f.column, f.observed) for f in outcome.failed] == [
        ("expect_column_min_to_be_between", "age_days", 5)
    ]

    noisy = files.copy()
    big = noisy.index[0]
    noisy.loc[big, ["rows_in_file", "rows_quarantined"]] = [1000, 80]
    noisy.loc[big, "quarantine_rate"] = 0.08
    outcome = validate_frame(noisy, suite)
    assert [(f.column, f.unexpected_examples) for f in outcome.failed] == [("quarantine_rate", [0.08])]
    assert outcome.failed[0].where == [f"file={noisy.loc[big, 'file']}"]


# --- the pipeline ------------------------------------------------------------------------------------

def test_clean_session_build_passed_every_gate_and_wrote_data_docs(built: Built):
    docs = built.warehouse / "data_docs"
    records = [json.loads(p.read_text(encoding="utf-8")) for p in (docs / "results").glob("*.json")]
    from orchestration.assets.checks import marts_with_suites

    delivered = [e.name for e in contract.ENTITIES if e.name not in contract.OPTIONAL_ENTITIES]  # the generated site
    expected = {f"raw.{e}" for e in delivered} | {f"raw.{e}.files" for e in delivered}
    expected |= {f"marts.{m}" for m in marts_with_suites()}
    assert expected <= {r["suite"] for r in records}
    assert all(r["success"] for r in records), [r["suite"] for r in records if not r["success"]]
    summary = (docs / "summary.html").read_text(encoding="utf-8")
    assert "0 failing" in summary and "http" not in summary.split("</style>")[0]  # no CDN in the head
    # passing validations get no GX page by default (CRM_DATA_DOCS=all renders them); failures do (below)
    assert all(r["docs_page"] is None for r in records)


def _plant_price(folder: Path) -> None:
    path = folder / "products.csv"
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
    rows[1][rows[0].index("list_price")] = PLANTED_PRICE
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")


def test_failing_expectation_blocks_downstream_and_publish_and_is_recorded(built: Built, tmp_path):
    """Acceptance 4: a new extract day whose products pass the loader but break a GX expectation."""
    from tests.test_cli_errors import _add_day

    copy = copy_built(built, tmp_path)
    before = _sha(copy.published)
    audit_before = copy.work_query("SELECT count(*) AS n FROM ops.load_audit")["n"][0]
    new = _add_day(copy, _plant_price)
    home = tmp_path / "dagster_home"
    home.mkdir()
    proc = run_cli("run", "--landing", str(copy.landing), "--warehouse", str(copy.warehouse), check=False,
                   env={"DAGSTER_HOME": str(home)})

    # the CLI: non-zero exit, one line naming the gate, the expectation, the file and line
    assert proc.returncode == 1
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    line = errors[0]
    assert "quality gate raw/products failed" in line and "list_price" in line
    assert f"{new.name}/products.csv" in line and "rolled back" in line and "reload --date" not in line

    # the previous warehouse stays published; nothing downstream of the gate ran
    assert _sha(copy.published) == before
    assert copy.work_query("SELECT count(*) AS n FROM ops.load_audit")["n"][0] == audit_before  # ops skipped
    assert not (copy.warehouse / "raw" / "products" / f"_batch={new.name}").exists()  # refused: rolled back

    # the Dagster instance (what the UI shows) holds the failed ERROR check with its evidence
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        (run,) = instance.get_runs()
        assert run.status == dg.DagsterRunStatus.FAILURE
        evals = [
            r.event_log_entry.dagster_event.event_specific_data
            for r in instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
        ]
        mats = {
            r.event_log_entry.dagster_event.event_specific_data.materialization.asset_key
            for r in instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
        }
    finally:
        instance.dispose()
    failed = [e for e in evals if not e.passed]
    assert [(e.asset_key, e.check_name) for e in failed] == [(dg.AssetKey(["raw", "products"]), "great_expectations")]
    check = failed[0]
    assert check.severity == dg.AssetCheckSeverity.ERROR and check.blocking
    assert "list_price" in check.metadata["failures"].value and "2500000" in check.metadata["failures"].value
    page = Path(check.metadata["data_docs_page"].value)
    assert page.is_file() and "raw.products" in page.read_text(encoding="utf-8")
    assert {k.path[0] for k in mats} == {"raw"}  # no ops, dbt, mart or serving asset materialized
    assert dg.AssetKey(["serving", "crm_duckdb"]) not in mats

    # Data Docs: the summary page and the GX page of the failed validation name the expectation
    summary = (copy.warehouse / "data_docs" / "summary.html").read_text(encoding="utf-8")
    assert "FAILED" in summary and "list_price" in summary and PLANTED_PRICE.split(".")[0] in summary
    html = page.read_text(encoding="utf-8")
    assert "list_price" in html and "Failed" in html
    assert (copy.warehouse / "data_docs" / "index.html").is_file()
