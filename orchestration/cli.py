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

from orchestration.errors import CrmWarehouseError
from orchestration.settings import DEMO_PII_KEY, PII_KEY_ENV, load_settings

app = typer.Typer(
    help="CRM analytics warehouse: nightly CRM extracts -> DuckDB raw zone -> dbt marts -> published crm.duckdb.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True, soft_wrap=True)  # never hard-wrap a path or an error line (copy-paste, grep)

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
    from bench.generator import main as gen

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


def _warn_skipped_folders(landing_dir: Path) -> None:
    """One console line per landing folder the run will not load (no manifest yet, not a date); the run's
    own log (Dagster's ingest step) has them too, but it goes to the log file."""
    from orchestration.raw.landing import skipped_folder_warnings

    for warning in skipped_folder_warnings(landing_dir):
        console.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)


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
        _warn_skipped_folders(settings.landing_dir)
        with _spinner("running the warehouse refresh (ingest → dbt → publish)…"):
            outcome = run_warehouse(settings, full_refresh=full_refresh, reload_dates=reload_dates, log_file=log_file)
    except CrmWarehouseError as exc:
        _fail(exc)
    for warning in outcome.warnings:  # schema drift of this run's files: on the console, not only in the log
        console.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
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
    from bench.generator import main as gen
    from orchestration.runner import default_log_file, run_warehouse
    from orchestration.serving.dbt_docs import build_dbt_docs

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
        with _spinner("building the dbt docs page…"):
            docs_page = build_dbt_docs(settings)
    except CrmWarehouseError as exc:
        _fail(exc)
    from orchestration.serving.summary import print_summary

    print_summary(settings.published_db, elapsed)
    console.print(f"dbt docs: {docs_page}", highlight=False, soft_wrap=True)


@app.command()
def snapshots(warehouse: WarehouseOpt = None) -> None:
    """List the kept snapshots of the published warehouse (newest first): id, as_of, size, tables."""
    from orchestration.serving.snapshots import list_snapshots

    try:
        settings = load_settings(None, warehouse)
        items = list_snapshots(settings.published_db)
    except CrmWarehouseError as exc:
        _fail(exc)
    if not items:
        console.print(f"no snapshots in {settings.snapshots_dir} (each publish leaves one)", highlight=False)
        return
    out = Console(width=200, soft_wrap=True)
    out.print(f"snapshots in {settings.snapshots_dir} (newest first):", highlight=False)
    out.print(f"{'id':<36} {'as_of':<10}  {'published at':<19}  {'size':>10}  {'tables':>6}  {'rows':>12}  parquet",
              highlight=False)
    for s in items:
        out.print(f"{s.publish_id:<36} {str(s.as_of or ''):<10}  {str(s.published_at or ''):<19}  "
                  f"{s.size_bytes / 1e6:>7,.1f} MB  {s.tables:>6}  {s.rows:>12,}  "
                  f"{'yes' if s.has_parquet else 'pruned':<7}{'  <- current' if s.is_current else ''}",
                  highlight=False)


@app.command()
def restore(
    snapshot_id: Annotated[str, typer.Argument(metavar="ID", help="Snapshot id as listed by `crm-warehouse snapshots`.")],
    warehouse: WarehouseOpt = None,
) -> None:
    """Publish snapshot ID again: atomically replaces WAREHOUSE/crm.duckdb and the Parquet `current` link.

    Takes the warehouse lock (fails at once, naming the holder, while a run is writing)."""
    from orchestration.lock import warehouse_lock
    from orchestration.serving.snapshots import restore as restore_snapshot

    _quiet_logs()
    try:
        settings = load_settings(None, warehouse)
        with warehouse_lock(settings.lock_file, f"crm-warehouse restore {snapshot_id}"):
            info = restore_snapshot(settings.published_db, snapshot_id, log=lambda m: console.print(m, highlight=False))
    except CrmWarehouseError as exc:
        _fail(exc)
    console.print(f"restored {info.publish_id} (as_of {info.as_of}, {info.tables} tables) as "
                  f"{settings.published_db}", highlight=False)


@app.command()
def report(warehouse: WarehouseOpt = None) -> None:
    """Rebuild WAREHOUSE/report/index.html (a self-contained HTML report) from the published crm.duckdb.

    Reads the published file read-only, so it needs no lock and can run while a refresh is running."""
    from orchestration.report import report_path
    from orchestration.report.render import build_report

    try:
        settings = load_settings(None, warehouse)
        result = build_report(settings.published_db, report_path(settings.warehouse_dir))
    except CrmWarehouseError as exc:
        _fail(exc)
    missing = f"; not available yet: {', '.join(result.unavailable)}" if result.unavailable else ""
    console.print(f"report {result.path} ({len(result.chart_ids)} charts, {result.seconds:.1f} s){missing}",
                  highlight=False, soft_wrap=True)


@app.command()
def docs(warehouse: WarehouseOpt = None) -> None:
    """Build the dbt docs (models, columns, tests, lineage graph) as one static page,
    WAREHOUSE/dbt_docs/index.html, from the work file; open it in a browser, no server needed.

    Takes the writer lock (it reads the work file's catalog), so it waits for no run: a running refresh
    makes it exit at once naming the run."""
    from orchestration.serving.dbt_docs import build_dbt_docs

    try:
        settings = load_settings(None, warehouse)
        with _spinner("building dbt docs"):
            page = build_dbt_docs(settings)
    except CrmWarehouseError as exc:
        _fail(exc)
    console.print(f"dbt docs: {page}", highlight=False, soft_wrap=True)


@app.command()
def forget(
    customer_id: Annotated[str, typer.Argument(metavar="CUSTOMER_ID", help="Source customer id of the person.")],
    warehouse: WarehouseOpt = None,
    landing: Annotated[
        Path | None,
        typer.Option("--landing", help="Also count the lines of the landing extracts that still hold the person "
                     "(read-only: the source system must purge them; they are never loaded again)."),
    ] = None,
) -> None:
    """Right to be forgotten: erase one person (and every duplicate record of them) from the published file,
    snapshots, Parquet exports, raw zone and work file, and keep them out of every later load.

    Takes the warehouse lock. Idempotent; run it again after an interruption. Recorded in ops.forget_log."""
    from orchestration.privacy.forget import forget as forget_person

    _quiet_logs()
    try:
        settings = load_settings(landing, warehouse)
        if landing is not None and not settings.landing_dir.is_dir():
            raise CrmWarehouseError(f"{settings.landing_dir}: landing folder does not exist (--landing)")
        with _spinner("forgetting the person everywhere…"):
            r = forget_person(settings, customer_id, landing_dir=settings.landing_dir if landing else None)
    except CrmWarehouseError as exc:
        _fail(exc)

    def say(message: str) -> None:
        console.print(message, highlight=False, soft_wrap=True)

    removed = r.published.rows + r.snapshots.rows + r.parquet.rows + r.raw.rows + r.work.rows
    if r.status == "already_forgotten":
        say(f"customer {r.requested} was already forgotten (rows removed now: {removed})")
    else:
        say(f"forgot customer {r.requested} ({r.source_records} source record(s), {r.orders} order(s)) in "
            f"{r.seconds} s; rows removed: published file {r.published.rows}, snapshots {r.snapshots.rows} "
            f"({r.snapshots.files} files), Parquet exports {r.parquet.rows} ({r.parquet.files} files), raw zone "
            f"{r.raw.rows} + {r.raw.quarantine_removed} quarantined records, work file {r.work.rows}; "
            f"text files redacted: {r.text_files}")
    if r.landing:
        files = ", ".join(f"{name} ({n})" for name, n in sorted(r.landing.items()))
        say(f"the landing folder still holds {sum(r.landing.values())} line(s) of this person: {files}; the "
            "source system must purge them (later runs never load them: forgotten list)")
    say(f"logged in ops.forget_log (published with the next run): {r.record}")


@app.command("import")
def import_(
    src: Annotated[Path, typer.Argument(metavar="SRC", help="Folder of the CRM's export files (CSV).")],
    dest: Annotated[Path, typer.Argument(metavar="DEST", help="Landing folder to write DEST/<date>/ and DEST/crm.yml into.")],
    mapping: Annotated[Path, typer.Option("--mapping", help="YAML mapping from the export to the contract "
                                          "(docs/mappings.md; shipped: orchestration/importing/mappings/).")],
    date_: Annotated[str | None, typer.Option("--date", help="Extract date YYYY-MM-DD (default: the newest "
                                              "mapped event time).")] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite an existing DEST/<date>/ with different content.")] = False,
) -> None:
    """Turn a CRM's own export (HubSpot, Salesforce, ...) into a contract extract folder with a mapping file.

    Writes DEST/<date>/<entity>.csv and _manifest.json (last) and merges DEST/crm.yml (currency, entities).
    Unmapped code values pass through (the loader quarantines them as unknown_code) and are listed."""
    from orchestration.importing.importer import import_export

    try:
        import_export(mapping, src, dest, _date(date_, "--date"), replace,
                      log=lambda m: console.print(m, highlight=False, soft_wrap=True))
    except CrmWarehouseError as exc:
        _fail(exc)


@app.command()
def bench(
    scales: Annotated[str, typer.Option(help="Comma-separated scale factors, e.g. 0.1,1,10 (1 ≈ 100 000 customers).")] = "0.1",
    out: Annotated[Path, typer.Option(help="JSON file the figures are written to.")] = Path("bench.json"),
    seed: Annotated[int, typer.Option(help="Generator seed.")] = 7,
    cache: Annotated[Path, typer.Option(help="Folder of generated extracts (kept per scale and seed) and work.")] = Path(".bench_cache"),
) -> None:
    """Per scale: scan floor, full and nightly refresh (per stage), peak RSS, the pandas way (docs/performance.md)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/ is in a source checkout, not the wheel
    try:
        from bench.cli import bench_command

        bench_command(scales, out, seed, cache, console)
    except (CrmWarehouseError, ModuleNotFoundError) as exc:  # "No module named 'bench'": not a source checkout
        _fail(CrmWarehouseError(str(exc)))


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
