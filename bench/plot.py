"""The cost-against-scale plot of docs/performance.md, made from `crm-warehouse bench` JSON files.

    .venv/bin/python -m bench.plot bench-0.1.json bench-1.json --out docs/performance.svg

Several files may be given (each bench invocation writes one): every scale they hold is plotted, and
where two files measured the same scale, the later file (by its `created_at`) wins. The plot has time in
seconds on a log axis against the scale on a log axis, one line each for the scan floor, the full refresh,
the nightly refresh and the pandas way, plus the peak memory of the full refresh and the pandas way in a
second panel. The output format follows the file suffix (.svg or .png, rendered by vl-convert).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import altair as alt
import pandas as pd

#: (series label, figures key) of the time panel and of the memory panel
TIME_SERIES = (("scan floor", "scan_floor"), ("full refresh", "full_refresh"),
               ("nightly refresh (~1 % delta)", "nightly_refresh"), ("pandas way (3 outputs)", "pandas_full"))
MEMORY_SERIES = (("full refresh", "full_refresh"), ("pandas way (3 outputs)", "pandas_full"))
TIME_PANEL, MEMORY_PANEL = "seconds", "peak memory MiB (process tree)"


def latest_per_scale(documents: list[dict]) -> list[dict]:
    """One figures dict per scale, the latest bench run's where several measured it, by scale."""
    chosen: dict[float, tuple[str, dict]] = {}
    for document in documents:
        for figures in document["scales"]:
            seen = chosen.get(figures["scale"])
            if seen is None or document["created_at"] >= seen[0]:
                chosen[figures["scale"]] = (document["created_at"], figures)
    return [chosen[scale][1] for scale in sorted(chosen)]


def long_frame(scales: list[dict]) -> pd.DataFrame:
    """scale, panel, series, value: one row per plotted point."""
    rows = [(f["scale"], TIME_PANEL, label, f[key]["seconds"]) for f in scales for label, key in TIME_SERIES]
    rows += [(f["scale"], MEMORY_PANEL, label, f[key]["peak_tree_rss_mib"])
             for f in scales for label, key in MEMORY_SERIES]
    return pd.DataFrame(rows, columns=["scale", "panel", "series", "value"])


def chart(frame: pd.DataFrame) -> alt.Chart:
    log = alt.Scale(type="log")
    return alt.Chart(frame).mark_line(point=True).encode(
        x=alt.X("scale:Q", scale=log, title="scale (1 = 100 000 customers)"),
        y=alt.Y("value:Q", scale=log, title=None),
        color=alt.Color("series:N", title=None),
        tooltip=["scale", "series", "value"],
    ).properties(width=360, height=240).facet(
        column=alt.Column("panel:N", title=None, sort=[TIME_PANEL, MEMORY_PANEL])
    ).resolve_scale(y="independent").properties(title="crm-warehouse bench: cost against scale")


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path, help="bench JSON files (crm-warehouse bench --out)")
    parser.add_argument("--out", type=Path, required=True, help="the plot file (.svg or .png)")
    args = parser.parse_args(argv)
    documents = [json.loads(path.read_text(encoding="utf-8")) for path in args.files]
    chart(long_frame(latest_per_scale(documents))).save(str(args.out))
    print(f"plot: {args.out}")
    return args.out


if __name__ == "__main__":
    main()
