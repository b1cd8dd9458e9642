"""`crm-warehouse bench` end to end at the smallest scale (0.01: the CLI takes any scale > 0; every figure
of the big scales is there too): every figure is present and numeric, each stage of both refreshes is
found in the run's log, and the pandas way's three outputs equal our published tables after the full and
after the nightly refresh. Never a timing threshold: the machine is shared."""

from __future__ import annotations

import json
import math
from pathlib import Path

import duckdb
import pytest

from bench import stages
from bench.compare import compare
from tests.conftest import run_cli

pytestmark = pytest.mark.slow

STAGES = ("ingest", "gx_checks", "dbt", "ml", "publish", "report")
MEASURED = ("seconds", "peak_rss_mib", "peak_tree_rss_mib")
FIGURES = [
    *((part, k) for part in ("generate", "scan_floor", "full_refresh", "nightly_refresh", "pandas_full",
                             "pandas_nightly") for k in MEASURED),
    *(("full_refresh", "stages", s) for s in stages.STAGE_NAMES),
    *(("nightly_refresh", "stages", s) for s in stages.STAGE_NAMES),
    ("scan_floor", "rows"), ("scan_floor", "files"),
    ("input", "history_rows"), ("input", "delta_rows"), ("input", "delta_rows_pct"),
    ("input", "history_bytes"), ("input", "delta_bytes"), ("warehouse_bytes",),
    ("ratios", "full_over_floor"), ("ratios", "nightly_over_full"),
    ("ratios", "ours_over_pandas_time"), ("ratios", "ours_over_pandas_memory"),
]
OUTPUTS = ("customer_behavior", "order_nets", "monthly_sales")


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory) -> tuple[dict, str, Path]:
    root = tmp_path_factory.mktemp("bench")
    proc = run_cli("bench", "--scales", "0.01", "--out", str(root / "x.json"), "--cache", str(root / "cache"))
    return json.loads((root / "x.json").read_text()), proc.stderr, root / "cache"


def _get(figures: dict, path: tuple[str, ...]):
    for key in path:
        assert key in figures, f"missing figure {'.'.join(path)}"
        figures = figures[key]
    return figures


def test_every_figure_is_present_and_numeric(bench_run):
    document, stderr, _ = bench_run
    assert document["machine"]["cpus"] >= 1 and document["machine"]["memory_gib"] > 0
    (scale,) = document["scales"]
    assert scale["scale"] == 0.01
    for path in FIGURES:
        value = _get(scale, path)
        assert isinstance(value, int | float) and not isinstance(value, bool), (path, value)
        assert math.isfinite(value) and value >= 0, (path, value)
    for run in ("full_refresh", "nightly_refresh"):  # each stage was found in the run's own log
        assert all(scale[run]["stages"][s] > 0 for s in STAGES), scale[run]["stages"]
        assert sum(scale[run]["stages"].values()) == pytest.approx(scale[run]["seconds"], rel=0.01)
    assert scale["generate"]["cached"] is False
    assert scale["input"]["delta_rows"] > 0 and len(scale["input"]["days"]) == 1 + document["delta_days"]
    (manifest,) = bench_run[2].glob(f"scale0.01-*/landing/{scale['input']['days'][0]}/_manifest.json")
    assert scale["scan_floor"]["files"] == len(json.loads(manifest.read_text())["files"])
    assert scale["scan_floor"]["rows"] > 0.99 * scale["input"]["history_rows"]
    for label in ("scan floor s", "full refresh s", "nightly / full", "ours / pandas, memory",
                  "pandas results equal ours"):
        assert label in stderr  # the table


def test_pandas_results_equal_ours(bench_run):
    (scale,) = bench_run[0]["scales"]
    assert scale["equal"]["all"] is True
    for run, pandas in (("full_refresh", "pandas_full"), ("nightly_refresh", "pandas_nightly")):
        result = scale["equal"][run]
        for name in OUTPUTS:
            assert result[name]["equal"] is True and result[name]["first_difference"] is None, result[name]
            assert result[name]["rows_ours"] == result[name]["rows_pandas"] > 0
            if name != "customer_behavior":  # the pandas way counts per source customer, rolled up to masters
                assert result[name]["rows_pandas"] == scale[pandas]["rows"][name]
    assert scale["equal"]["full_refresh"]["order_nets"]["rows_ours"] < \
        scale["equal"]["nightly_refresh"]["order_nets"]["rows_ours"]  # the nightly loaded new orders


def test_the_check_sees_a_one_cent_difference(bench_run, tmp_path):
    """The equality is not vacuous: one order a cent off in the pandas output is reported, with its row."""
    cache = bench_run[2]
    work = cache / "work-0.01"
    pandas_dir = tmp_path / "pandas"
    pandas_dir.mkdir()
    with duckdb.connect() as con:
        for name in OUTPUTS:
            src = str(work / "pandas_nightly" / f"{name}.parquet")
            dest = str(pandas_dir / f"{name}.parquet")
            if name == "order_nets":
                con.execute("CREATE TABLE t AS FROM read_parquet($p)", {"p": src})
                con.execute("UPDATE t SET net_cents = net_cents + 1 WHERE order_id = (SELECT min(order_id) FROM t)")
                con.execute("COPY t TO $d (FORMAT parquet)", {"d": dest})
            else:
                con.execute("COPY (FROM read_parquet($p)) TO $d (FORMAT parquet)", {"p": src, "d": dest})
        first_order = con.execute("SELECT min(order_id) FROM t").fetchone()[0]
    result = compare(pandas_dir, work / "warehouse" / "crm.duckdb")
    assert result["equal"] is False and result["customer_behavior"]["equal"] and result["monthly_sales"]["equal"]
    nets = result["order_nets"]
    assert (nets["only_ours"], nets["only_pandas"]) == (1, 1)
    assert nets["first_difference"]["only_in"] == "ours" and first_order in nets["first_difference"]["row"].values()


@pytest.mark.parametrize("text,seconds", [("8.3ms", 0.0083), ("533ms", 0.533), ("5.6s", 5.6), ("4m52s", 292.0),
                                          ("1h4m", 3840.0)])
def test_dagster_durations(text, seconds):
    assert stages.duration_seconds(text) == pytest.approx(seconds)


def test_the_cost_plot_is_made_from_the_json(bench_run, tmp_path):
    """`python -m bench.plot` draws every measured scale from the JSON (docs/performance.md's plot); where two
    files measured the same scale, the later one is plotted."""
    from bench import plot

    document, _, cache = bench_run
    older = {**document, "created_at": "2000-01-01T00:00:00+00:00"}
    older_file = tmp_path / "older.json"
    older_file.write_text(json.dumps(older))
    frame = plot.long_frame(plot.latest_per_scale([document, older]))
    assert len(frame) == len(plot.TIME_SERIES) + len(plot.MEMORY_SERIES)
    full = frame[(frame["panel"] == plot.TIME_PANEL) & (frame["series"] == "full refresh")]
    assert full["value"].tolist() == [document["scales"][0]["full_refresh"]["seconds"]]
    out = plot.main([str(older_file), str(cache.parent / "x.json"), "--out", str(tmp_path / "cost.svg")])
    assert out.read_text().lstrip().startswith("<svg")
