"""Quality gates: the Great Expectations raw suites, the runner, the blocking Dagster asset checks, and
end to end: a planted out-of-range extract blocks the publish at the raw gate (the failure is recorded);
a mart value out of range fails its dbt test (the marts' gates are dbt tests, not GX) and blocks it too."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from expectations import SUITES_DIR, build_raw_suites, facts
from expectations.suites import load_suite, suite_names
from orchestration import contract
from tests.conftest import REPO, Built, copy_built, run_cli

PLANTED_PRICE = "2500000.00"  # the loader accepts it (>= 0); the GX-only rule list_price <= 1 000 000 does not


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _manifest() -> dict:
    return json.loads((REPO / "dbt_project" / "target" / "manifest.json").read_text(encoding="utf-8"))


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
    from expectations.suites import to_gx_suite  # imports great_expectations (slow, once)

    names = suite_names()
    assert names
    for name in names:
        suite = load_suite(name)
        assert suite["name"] == name
        gx_suite = to_gx_suite(suite)  # raises if GX drops an invalid expectation
        assert len(gx_suite.expectations) == len(suite["expectations"]) > 0
        meta = suite["meta"]["crm_warehouse"]
        assert meta["asset"].split("/")[0] == "raw" and meta["frame"] in ("rows", "files")


def test_suite_script_checks_without_writing_and_rejects_unknown_options(capsys):
    """`--check` reports the committed suites in sync; `--help` and an unknown option exit before writing."""
    script = build_raw_suites
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


def test_checks_are_blocking_gx_on_every_raw_entity_has_rows_on_every_mart():
    from orchestration.assets.checks import CHECK_NAME, RAW_CHECKS
    from orchestration.assets.mart_gates import CHECK_NAME as HAS_ROWS
    from orchestration.assets.mart_gates import marts_have_rows
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    gx = {k.asset_key for k in graph.asset_check_keys if k.name == CHECK_NAME}
    assert gx == {dg.AssetKey(["raw", e.name]) for e in contract.ENTITIES}  # GX gates the raw zone only
    specs = [spec for checks in RAW_CHECKS for spec in checks.check_specs]
    assert {s.asset_key for s in specs} == gx and all(s.blocking for s in specs)
    marts = {n["name"] for n in _manifest()["nodes"].values()
             if n["resource_type"] == "model" and n["fqn"][1] == "marts"}
    has_rows = {k.asset_key for k in graph.asset_check_keys if k.name == HAS_ROWS}
    assert has_rows == {dg.AssetKey(["marts", m]) for m in marts}
    assert all(s.blocking for s in marts_have_rows.check_specs)


MONEY = re.compile(r"(amount|revenue|spend|budget|price|lifetime_value)$")


def test_every_mart_money_and_rate_column_has_a_dbt_range_rule():
    """The marts' value rules are dbt tests (`value_ranges`, one per mart): every listed column exists, and
    a money column (decimal, named like an amount) or a 0-1 fraction is never left without a range, so a
    new column does not silently escape the gate."""
    manifest = _manifest()
    ranges: dict[str, dict] = {}
    for node in manifest["nodes"].values():
        meta = node.get("test_metadata") or {}
        if node["resource_type"] == "test" and meta.get("name") == "value_ranges":
            if not node["attached_node"].startswith("model."):
                continue  # a seed's ranges (opportunity_stage_probabilities): not a mart
            model = node["attached_node"].rsplit(".", 1)[-1]
            assert model not in ranges, f"{model}: one value_ranges test per mart"
            ranges[model] = meta["kwargs"]["ranges"]
    marts = {n["name"]: n for n in manifest["nodes"].values()
             if n["resource_type"] == "model" and n["fqn"][1] == "marts"}
    for model, rules in ranges.items():
        assert set(rules) <= set(marts[model]["columns"]), f"{model}: value_ranges names unknown columns"
        assert all(r.get("rule") and ("min" in r or "max" in r) for r in rules.values()), model
    for model, node in marts.items():
        for name, col in node["columns"].items():
            if name in SIGNED_MONEY:
                continue
            if MONEY.search(name) and (col.get("data_type") or "").startswith("decimal"):
                assert rules_for(ranges, model, name).get("min") == 0, f"{model}.{name}: money without min 0"
            if name in ("discount", "win_rate", "converted") and col.get("data_type") not in ("boolean", None):
                assert rules_for(ranges, model, name) == {**rules_for(ranges, model, name), "min": 0, "max": 1}


#: money columns that are differences, negative by definition (forecast - actual)
SIGNED_MONEY = {"forecast_error_amount"}


def rules_for(ranges: dict, model: str, column: str) -> dict:
    return ranges.get(model, {}).get(column, {})


# --- the runner on frames ----------------------------------------------------------------------------

def _raw_frame(built: Built, entity: str) -> pd.DataFrame:
    glob = str(built.warehouse / "raw" / entity / "*" / "*.parquet")
    with duckdb.connect() as con:
        return con.read_parquet(glob, hive_partitioning=True, union_by_name=True).df().drop(columns="_batch")


def _failed(result) -> list[tuple[str, str | None]]:
    from expectations import runner

    return [(r.expectation_config.type, runner.column_of(r.expectation_config.kwargs)) for r in runner.failures(result)]


def test_runner_passes_clean_frames_and_names_the_failing_expectation(built: Built):
    from great_expectations.checkpoint.checkpoint import CheckpointResult

    from expectations import runner

    orders = _raw_frame(built, "orders")
    clean = runner.validate_frame(orders, "raw.orders")
    assert isinstance(clean, CheckpointResult)  # GX's own result objects, not a copy of them
    (result,) = runner.suite_results(clean)
    assert clean.success and result.statistics["evaluated_expectations"] == len(load_suite("raw.orders")["expectations"])

    bad = orders.copy()
    bad.loc[bad.index[0], "channel"] = "fax"  # an unknown code
    bad.loc[bad.index[1], "channel"] = "  WEB "  # original case and padding are fine, like the loader
    bad = pd.concat([bad, bad.iloc[[2]]])  # the same record twice in one file: no conflict (contract)
    outcome = runner.validate_frame(bad, "raw.orders")
    assert not outcome.success
    assert _failed(outcome) == [("expect_column_values_to_match_regex", "channel")], runner.summary(outcome)
    (code,) = runner.failures(outcome)
    assert runner.examples(code) == ["fax"] and runner.rule(code).startswith("allowed code")
    line = orders["_source_line"].iloc[0]
    assert runner.where(code) == [f"_source_file={orders['_source_file'].iloc[0]} _source_line={line}"]
    assert "1 unexpected, e.g. fax at _source_file=" in runner.describe(code)

    products = _raw_frame(built, "products")
    products.loc[products.index[0], "list_price"] = float(PLANTED_PRICE)  # passes the loader (>= 0)
    outcome = runner.validate_frame(products, "raw.products")
    assert _failed(outcome) == [("expect_column_values_to_be_between", "list_price")]
    (price,) = runner.failures(outcome)
    assert "GX-only" in runner.rule(price) and "2500000" in runner.describe(price)


def test_a_checkpoint_renders_data_docs_for_failures_and_an_offline_entry_page(built: Built, tmp_path):
    """Each suite runs as a GX Checkpoint whose UpdateDataDocsAction renders the page of a failed validation
    (all validations with docs="all"); summary.html lists the run's results without any script or CDN."""
    from great_expectations.checkpoint import UpdateDataDocsAction

    from expectations import runner

    products = _raw_frame(built, "products")
    bad = products.copy()
    bad.loc[bad.index[0], "list_price"] = float(PLANTED_PRICE)
    docs = tmp_path / "docs"
    validator = runner.get_validator(docs, "run-1")
    assert validator.docs_page(validator.validate(products, "raw.products")) is None  # passing: no GX page
    failed = validator.validate(bad, "raw.products")
    (action,) = validator.context.checkpoints.get("raw.products").actions
    assert isinstance(action, UpdateDataDocsAction)
    page = Path(validator.docs_page(failed))
    assert page.is_file() and page.is_relative_to(docs / "validations" / "raw" / "products" / "run-1")
    assert "list_price" in page.read_text(encoding="utf-8") and (docs / "index.html").is_file()

    summary = (docs / "summary.html").read_text(encoding="utf-8")
    assert "<script" not in summary and "http" not in summary.split('<a href="index.html">')[0]
    assert "1 suites validated" in summary and "1 failing" in summary and "run-1" in summary
    assert "2500000" in summary and os.path.relpath(page, docs) in summary

    everything = runner.get_validator(tmp_path / "all", "run-2", docs="all")
    assert Path(everything.docs_page(everything.validate(products, "raw.products"))).is_file()


def test_files_suite_gates_freshness_and_quarantine_rate(built: Built):
    from expectations import runner
    from orchestration.assets.checks import raw_frames
    from orchestration.settings import load_settings

    settings = load_settings(built.landing, built.warehouse)
    newest = max(date.fromisoformat(p.name) for p in built.landing.iterdir() if p.name[:2] == "20")
    (_, _, _), (suite, files, _) = raw_frames(settings, "orders", newest)
    assert runner.validate_frame(files, suite).success
    assert (files["rows_in_raw"] == files["rows_loaded"]).all()

    (_, _, _), (_, stale, _) = raw_frames(settings, "orders", newest + timedelta(days=5))
    outcome = runner.validate_frame(stale, suite)
    assert _failed(outcome) == [("expect_column_min_to_be_between", "age_days")]
    assert runner.failures(outcome)[0].result["observed_value"] == 5

    noisy = files.copy()
    big = noisy.index[0]
    noisy.loc[big, ["rows_in_file", "rows_quarantined"]] = [1000, 80]
    noisy.loc[big, "quarantine_rate"] = 0.08
    outcome = runner.validate_frame(noisy, suite)
    assert _failed(outcome) == [("expect_column_values_to_be_between", "quarantine_rate")]
    (rate,) = runner.failures(outcome)
    assert runner.examples(rate) == [0.08] and runner.where(rate) == [f"file={noisy.loc[big, 'file']}"]


# --- the pipeline ------------------------------------------------------------------------------------

def test_clean_session_build_passed_every_gate_and_wrote_data_docs(built: Built):
    docs = built.warehouse / "data_docs"
    delivered = [e.name for e in contract.ENTITIES if e.name not in contract.OPTIONAL_ENTITIES]  # the generated site
    expected = {f"raw.{e}" for e in delivered} | {f"raw.{e}.files" for e in delivered}
    summary = (docs / "summary.html").read_text(encoding="utf-8")
    assert set(re.findall(r"<tr><td>([\w.]+)</td><td class=ok>passed</td>", summary)) == expected
    assert "0 failing" in summary and "FAILED" not in summary and "<script" not in summary
    # passing validations get no GX page by default (CRM_DATA_DOCS=all renders them); failures do (below)
    assert not (docs / "validations").exists()


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
    assert f"{new.name}/products.csv" in check.metadata["failures"].value  # the file and line of the value
    gx_failed = check.metadata["gx_failed_expectations"].value  # GX's own description of each failure
    assert len(gx_failed) == check.metadata["failed_expectations"].value, gx_failed
    prices = [f for f in gx_failed if f["kwargs"].get("column") == "list_price"
              and f["expectation_type"] == "expect_column_values_to_be_between"]
    assert len(prices) == 1, gx_failed
    assert prices[0]["result"]["partial_unexpected_list"] == [2500000.0]
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


def test_a_mart_value_out_of_range_fails_its_dbt_gate_and_blocks_the_publish(built: Built, tmp_path):
    """A defect that passes the loader and the raw gates but breaks a mart rule (simulated: a 150 % line
    discount planted in the incremental intermediate layer, which the next night's build keeps): the dbt
    test fct_order_items_value_ranges fails, the run's error names the test, the mart, the column and the
    observed value, nothing downstream runs and the previous warehouse stays published."""
    from tests.test_cli_errors import _add_day

    copy = copy_built(built, tmp_path)
    before = _sha(copy.published)
    with duckdb.connect(str(copy.warehouse / "work" / "crm_work.duckdb")) as con:
        first = con.execute("SELECT min(_batch) FROM intermediate.int_order_items_deduped").fetchone()[0]
        order_id, line_no = con.execute(  # a line of day 1 that no later day re-delivered (kept as it is)
            "SELECT order_id, line_no FROM intermediate.int_order_items_deduped "
            "WHERE _batch = $first AND NOT is_deleted ORDER BY order_id, line_no LIMIT 1", {"first": first}
        ).fetchone()
        con.execute(
            "UPDATE intermediate.int_order_items_deduped SET discount = 1.5 WHERE order_id = $o AND line_no = $l",
            {"o": order_id, "l": line_no},
        )
    _add_day(copy, lambda folder: None)
    proc = run_cli("run", "--landing", str(copy.landing), "--warehouse", str(copy.warehouse), check=False)

    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    err = proc.stderr
    assert "dbt test fct_order_items_value_ranges on marts/fct_order_items failed" in err, err[-3000:]
    assert "column_name=discount, rule=a fraction / flag in 0-1, rows_out_of_range=1" in err
    assert "observed_max=1.5" in err and "nothing was published" in err
    assert _sha(copy.published) == before


def test_a_failed_dbt_build_is_explained_one_line_per_failed_node(tmp_path):
    """dbt's run_results -> the run's error: the first failure on the first line (what an alert quotes),
    then one line per failed node; a value_ranges failure shows its rows, other tests only dbt's count."""
    from orchestration.assets.dbt_failures import summary

    work = tmp_path / "work.duckdb"
    with duckdb.connect(str(work)) as con:
        con.execute("CREATE TABLE t AS SELECT -5 AS net_amount")
    manifest = {"nodes": {
        "model.p.fct_orders": {"name": "fct_orders", "resource_type": "model", "config": {"schema": "marts"}},
        "model.p.stg_x": {"name": "stg_x", "resource_type": "model", "config": {"schema": "staging"}},
        "test.p.fct_orders_value_ranges.1": {"name": "fct_orders_value_ranges", "attached_node": "model.p.fct_orders",
                                             "test_metadata": {"name": "value_ranges"}},
        "test.p.not_null_fct_orders_email.2": {"name": "not_null_fct_orders_email",
                                               "attached_node": "model.p.fct_orders",
                                               "test_metadata": {"name": "not_null"}},
    }}
    ranges_sql = "SELECT 'net_amount' AS column_name, count(*) AS rows_out_of_range, min(net_amount) AS observed_min FROM t WHERE net_amount < 0"
    results = {"results": [
        {"unique_id": "model.p.ok", "status": "success"},
        {"unique_id": "test.p.fct_orders_value_ranges.1", "status": "fail", "compiled_code": ranges_sql,
         "message": "Got 1 result, configured to fail if != 0"},
        {"unique_id": "test.p.not_null_fct_orders_email.2", "status": "fail", "compiled_code": "SELECT 'a@b.c'",
         "message": "Got 1 result, configured to fail if != 0"},
        {"unique_id": "model.p.stg_x", "status": "error", "message": "Binder Error: column \"x\" not found\n  LINE 1"},
    ]}
    text = summary(results, manifest, work)
    lines = text.splitlines()
    assert lines[0].startswith("dbt build failed (3 of 4 nodes): dbt test fct_orders_value_ranges on marts/fct_orders")
    assert lines[0].endswith("(+2 more)")
    assert "column_name=net_amount, rows_out_of_range=1, observed_min=-5" in lines[1]
    assert lines[2] == "  - dbt test not_null_fct_orders_email on marts/fct_orders failed: Got 1 result, configured to fail if != 0"
    assert "a@b.c" not in text  # a test's rows may hold personal data: only the gates' own rows are shown
    assert lines[3] == '  - dbt model staging/stg_x failed: Binder Error: column "x" not found LINE 1'
    assert "nothing was published" in lines[-1]
    assert summary({"results": [{"unique_id": "model.p.ok", "status": "success"}]}, manifest, work) is None
