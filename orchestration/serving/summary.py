"""The console summary `crm-warehouse demo` prints at the end, read from the published file."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table


def print_summary(published_db: Path, elapsed: float) -> None:
    """Row counts, quarantine by reason and where things are, read from the published file."""
    import duckdb

    from orchestration.report import report_path

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
    report = report_path(published_db.parent)
    if report.exists():
        out.print(f"report: open [bold]{report}[/] in a browser (works offline; `crm-warehouse report` rebuilds it)")
