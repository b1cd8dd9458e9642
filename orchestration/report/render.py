"""Build the report page from the query results and write it atomically.

`build_report(published_db, out)` reads the published file (read-only, aggregates only, so no personal
data), renders every chart to inline SVG and replaces `out` in one `os.replace`: a reader never sees a
half-written page. The page shows no wall-clock time, only the publish's own time stamps, so the same
published file gives the same page.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from orchestration.durable import atomic_write
from orchestration.report import charts, predictions, queries, sections
from orchestration.report import html as h
from orchestration.report.queries import ReportData

TITLE = "CRM warehouse report"
#: the page's sections, in order
SECTIONS = (sections.customers, sections.sales, sections.campaigns, sections.campaign_effects, sections.segments,
            predictions.churn_risk, predictions.lifetime_value, sections.service, sections.data_quality,
            sections.freshness)


@dataclass(frozen=True)
class ReportResult:
    """What `build_report` wrote: the page, the ids of its charts, the sections without data."""

    path: Path
    chart_ids: tuple[str, ...]
    unavailable: dict[str, str] = field(default_factory=dict)  # section id -> why its data is missing
    seconds: float = 0.0


def render(data: ReportData, source_name: str) -> tuple[str, list[h.Section]]:
    """The page's HTML and its sections."""
    charts.set_currency(sections.site_currency(data))
    built = [build(data) for build in SECTIONS]
    footer = (f"Built from the published warehouse {source_name} (read-only; aggregates only, no personal "
              "data). Regenerated after every publish; `crm-warehouse report` rebuilds it.")
    return h.page(TITLE, sections.header(data), h.kpis(sections.headline(data)), built, footer), built


def write_atomically(path: Path, content: str) -> None:
    """Write `content` to a temporary file next to `path`, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, content)  # orchestration/durable.py: fsynced, no temporary file left on failure


def build_report(published_db: Path, out: Path) -> ReportResult:
    """Read `published_db` (read-only) and (re)write the report page `out`."""
    t0 = time.perf_counter()
    data = queries.load(published_db)
    page, built = render(data, published_db.name)
    write_atomically(out, page)
    return ReportResult(
        path=out,
        chart_ids=tuple(f.chart_id for s in built for f in s.figures),
        unavailable={s.section_id: s.unavailable for s in built if s.unavailable},
        seconds=time.perf_counter() - t0,
    )
