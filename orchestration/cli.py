"""`crm-warehouse`: generate extracts, run and reload the warehouse, and a one-command demo.

User errors (bad file, busy warehouse, bad option) print one line and exit 1, never a traceback.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from orchestration.errors import CrmWarehouseError
from orchestration.settings import DEMO_PII_KEY, PII_KEY_ENV, load_settings

app = typer.Typer(
    help="CRM analytics warehouse: nightly CRM extracts -> DuckDB raw zone -> dbt marts -> published crm.duckdb.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)

LandingOpt = Annotated[
    Path | None,
    typer.Option("--landing", help="Folder of nightly extract folders <YYYY-MM-DD>/ (env CRM_LANDING_DIR)."),
]
WarehouseOpt = Annotated[
    Path | None,
    typer.Option(
        "--warehouse",
        help="Warehouse folder: crm.duckdb (published), raw/ (raw zone), work/ (build file) (env CRM_WAREHOUSE_DIR).",
    ),
]
AsOfOpt = Annotated[
    str | None,
    typer.Option("--as-of", help="Logical date YYYY-MM-DD: load extracts up to it (default: newest complete)."),
]


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CrmWarehouseError(f"{option} {value!r}: expected a date as YYYY-MM-DD") from None


@contextmanager
def _spinner(message: str) -> Iterator[None]:
    """A live status line on the terminal; it writes to a copy of stderr, so it stays visible while the
    run's own output is redirected to its log file."""
    with os.fdopen(os.dup(2), "w") as term:
        with Console(file=term, stderr=True).status(message):
            yield


def _fail(exc: CrmWarehouseError) -> None:
    console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def _quiet_logs() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@app.command()
def generate(
    out: Annotated[Path, typer.Option("--out", help="Landing folder to write extract folders and _truth/ into.")],
    scale: Annotated[float, typer.Option("--scale", help="Scale factor: 1 ≈ 100 000 customers, 1 M order lines.")] = 0.01,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: the same seed gives byte-identical files.")] = 7,
    days: Annotated[int, typer.Option("--days", help="Extract days: day 1 is the history, later days are deltas.")] = 1,
    start_date: Annotated[
        str | None, typer.Option("--start-date", help="First day of the generated history (YYYY-MM-DD).")
    ] = None,
) -> None:
    """Generate realistic CRM extracts with planted defects and ground truth (under OUT/_truth/)."""
    from orchestration.generate import main as gen

    try:
        if scale <= 0 or days < 1:
            raise CrmWarehouseError("--scale must be > 0 and --days >= 1")
        start = _date(start_date, "--start-date") or gen.DEFAULT_START_DATE
        t0 = time.perf_counter()
        result = gen.generate(out, scale=scale, seed=seed, days=days, start_date=start, progress=True)
    except CrmWarehouseError as exc:
        _fail(exc)
    dates = ", ".join(d.isoformat() for d in result.extract_dates)
    console.print(f"generated {len(result.extract_dates)} extract(s) [{dates}] in {out} "
                  f"in {time.perf_counter() - t0:.1f} s")


@app.command()
def run(
    landing: LandingOpt = None,
    warehouse: WarehouseOpt = None,
    as_of: AsOfOpt = None,
    full_refresh: Annotated[bool, typer.Option("--full-refresh", help="Rebuild incremental models from scratch.")] = False,
) -> None:
    """Load every new complete extract, build the marts with dbt and publish WAREHOUSE/crm.duckdb."""
    _run(landing, warehouse, as_of, full_refresh, ())


@app.command()
def reload(
    date_: Annotated[str, typer.Option("--date", help="Extract date YYYY-MM-DD whose corrected files replace the loaded ones.")],
    landing: LandingOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Replace one already-loaded extract day on purpose (its rows, quarantine and audit), then run."""
    try:
        d = _date(date_, "--date")
    except CrmWarehouseError as exc:
        _fail(exc)
    _run(landing, warehouse, None, False, (d,))


def _run(landing, warehouse, as_of, full_refresh, reload_dates) -> None:
    from orchestration.runner import default_log_file, run_warehouse

    _quiet_logs()
    try:
        settings = load_settings(landing, warehouse, _date(as_of, "--as-of"))
        if not settings.landing_dir.is_dir():
            raise CrmWarehouseError(f"{settings.landing_dir}: landing folder does not exist (--landing)")
        t0 = time.perf_counter()
        log_file = default_log_file(settings)
        console.print(f"log: {log_file}", highlight=False)
        with _spinner("running the warehouse refresh (ingest → dbt → publish)…"):
            outcome = run_warehouse(settings, full_refresh=full_refresh, reload_dates=reload_dates, log_file=log_file)
    except CrmWarehouseError as exc:
        _fail(exc)
    console.print(f"run {outcome.run_id[:8]} finished in {time.perf_counter() - t0:.1f} s; "
                  f"published {settings.published_db}", highlight=False)


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Demo folder (landing/ and warehouse/ inside).")] = Path(".demo"),
    scale: Annotated[float, typer.Option("--scale", help="Scale factor of the generated data.")] = 0.01,
    days: Annotated[int, typer.Option("--days", help="Extract days to generate and load.")] = 2,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 7,
) -> None:
    """Generate a small data set, run the whole pipeline on it and print what was produced."""
    from orchestration.generate import main as gen
    from orchestration.runner import default_log_file, run_warehouse

    _quiet_logs()
    if not os.environ.get(PII_KEY_ENV):
        os.environ[PII_KEY_ENV] = DEMO_PII_KEY
        console.print(f"{PII_KEY_ENV} not set: using the public demo key (never do this with real data)")
    landing, warehouse = out / "landing", out / "warehouse"
    try:
        if not landing.exists():
            gen.generate(landing, scale=scale, seed=seed, days=days, progress=True)
        settings = load_settings(landing, warehouse)
        t0 = time.perf_counter()
        log_file = default_log_file(settings)
        console.print(f"log: {log_file}", highlight=False)
        with _spinner("running the warehouse refresh (ingest → dbt → publish)…"):
            run_warehouse(settings, purpose="crm-warehouse demo", log_file=log_file)
        elapsed = time.perf_counter() - t0
    except CrmWarehouseError as exc:
        _fail(exc)
    print_summary(settings.published_db, elapsed)


def print_summary(published_db: Path, elapsed: float) -> None:
    """Row counts, quarantine by reason and where things are, read from the published file."""
    import duckdb

    out = Console()
    with duckdb.connect(str(published_db), read_only=True) as con:
        audit = con.execute(
            "SELECT count(*), sum(rows_in_file), sum(rows_loaded), sum(rows_quarantined) FROM ops.load_audit"
        ).fetchall()[0]
        reasons = con.execute(
            "SELECT reason, count(*) FILTER (status = 'quarantined'), count(*) FILTER (status = 'released') "
            "FROM ops.quarantine GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall()
        tables = con.execute(
            "SELECT table_name, row_count FROM ops.publish_log WHERE publish_id = "
            "(SELECT max(publish_id) FROM ops.publish_log) ORDER BY table_name"
        ).fetchall()
    out.print(f"[bold]crm-warehouse demo[/] finished in {elapsed:.1f} s")
    out.print(f"files loaded: {audit[0]}; rows in files {audit[1]:,} = loaded {audit[2]:,} + quarantined {audit[3]:,}")
    t = Table("reason", "quarantined", "released (late arrivals)", title="quarantine by reason")
    for reason, q, r in reasons:
        t.add_row(reason, f"{q:,}", f"{r:,}")
    out.print(t)
    t = Table("published table", "rows", title=f"published tables in {published_db}")
    for name, rows in tables:
        t.add_row(name, f"{rows:,}")
    out.print(t)
    out.print(f"BI: open [bold]{published_db}[/] read-only (duckdb -readonly {published_db}); "
              "Dagster UI: make ui")


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
