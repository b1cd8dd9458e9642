"""The visual report: WAREHOUSE/report/index.html, one self-contained page (inline CSS and SVG, no
scripts, no network) with the four reports, segments, campaign effects, data quality and freshness.

| module      | job                                                                          |
|-------------|------------------------------------------------------------------------------|
| `queries`   | the SQL: aggregates over the published file, skipped when tables are missing |
| `charts`    | Altair chart specs; `to_svg` renders one offline through vl-convert          |
| `html`      | formatting, tables, figures, sections, the page                              |
| `sections`  | one function per section: query results -> charts, tables or a note          |
| `render`    | `build_report`: queries -> sections -> page, written atomically              |

This module stays light (no Altair import): Dagster definitions and the CLI import it at start-up.
"""

from pathlib import Path

REPORT_DIR = "report"
REPORT_FILE = "index.html"


def report_path(warehouse_dir: Path) -> Path:
    """Where the report of a warehouse lives: WAREHOUSE/report/index.html."""
    return warehouse_dir / REPORT_DIR / REPORT_FILE
