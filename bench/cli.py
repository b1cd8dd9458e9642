"""What `crm-warehouse bench` prints and writes: a progress bar while it measures, then one table (a column
per scale) on the terminal and every figure as JSON in OUT (rewritten after each scale, so the scales
already measured survive an interrupted run)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bench.harness import DEFAULT_DELTA_DAYS, STEPS, bench_scale, machine, parse_scales
from orchestration.errors import CrmWarehouseError

# (label, path into one scale's figures, format)
ROWS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("history rows (day 1)", ("input", "history_rows"), "{:,}"),
    ("delta rows (nightly) %", ("input", "delta_rows_pct"), "{:.2f}"),
    ("generate s", ("generate", "seconds"), "{:.1f}"),
    ("scan floor s", ("scan_floor", "seconds"), "{:.2f}"),
    ("full refresh s", ("full_refresh", "seconds"), "{:.1f}"),
    *((f"  {s} s", ("full_refresh", "stages", s), "{:.1f}") for s in
      ("ingest", "gx_checks", "dbt", "ml", "publish", "report", "other_steps", "overhead")),
    ("full refresh peak RSS MiB (tree)", ("full_refresh", "peak_tree_rss_mib"), "{:,.0f}"),
    ("nightly refresh s", ("nightly_refresh", "seconds"), "{:.1f}"),
    *((f"  {s} s", ("nightly_refresh", "stages", s), "{:.1f}") for s in ("ingest", "gx_checks", "dbt", "ml")),
    ("nightly peak RSS MiB (tree)", ("nightly_refresh", "peak_tree_rss_mib"), "{:,.0f}"),
    ("pandas way s", ("pandas_full", "seconds"), "{:.2f}"),
    ("pandas way peak RSS MiB", ("pandas_full", "peak_tree_rss_mib"), "{:,.0f}"),
    ("full / floor", ("ratios", "full_over_floor"), "{:.1f}"),
    ("nightly / full", ("ratios", "nightly_over_full"), "{:.3f}"),
    ("ours / pandas, time", ("ratios", "ours_over_pandas_time"), "{:.2f}"),
    ("ours / pandas, memory", ("ratios", "ours_over_pandas_memory"), "{:.2f}"),
    ("pandas results equal ours", ("equal", "all"), "{}"),
)


def _get(figures: dict, path: tuple[str, ...]):
    for key in path:
        figures = figures.get(key) if isinstance(figures, dict) else None
    return figures


def table(results: list[dict]) -> Table:
    t = Table("figure", *(f"scale {r['scale']:g}" for r in results), title="crm-warehouse bench")
    for label, path, fmt in ROWS:
        values = [_get(r, path) for r in results]
        t.add_row(label, *("-" if v is None else fmt.format(v) for v in values))
    return t


def bench_command(scales_text: str, out: Path, seed: int, cache: Path, console: Console) -> list[dict]:
    """Measure every scale of `scales_text` ('0.1,1,10'), write OUT, print the table; the results."""
    scales = parse_scales(scales_text)
    document = {"created_at": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine(),
                "seed": seed, "delta_days": DEFAULT_DELTA_DAYS, "scales": []}
    out.parent.mkdir(parents=True, exist_ok=True)
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        for scale in scales:
            task = progress.add_task(f"scale {scale:g}", total=len(STEPS))
            done = [0]

            def step(name: str, task=task, scale=scale, done=done) -> None:
                progress.update(task, completed=done[0], description=f"scale {scale:g}: {name}")
                done[0] += 1

            figures = bench_scale(scale, seed, DEFAULT_DELTA_DAYS, cache.resolve(), step)
            progress.update(task, completed=len(STEPS), description=f"scale {scale:g}: done")
            document["scales"].append(figures)
            out.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    console.print(table(document["scales"]))
    console.print(f"figures: {out}", highlight=False)
    differ = [f"{r['scale']:g}" for r in document["scales"] if not r["equal"]["all"]]
    if differ:
        raise CrmWarehouseError(f"the pandas way's results differ from ours at scale {', '.join(differ)}: "
                                f"see `equal` (first_difference) in {out}")
    return document["scales"]
