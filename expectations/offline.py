"""`summary.html`: the offline entry page of the Data Docs folder, from the run's GX results.

Why it exists: GX's Data Docs pages load Bootstrap/jQuery from CDNs (offline they are unstyled but
readable) and the GX index draws its table with JavaScript from a CDN (offline it is empty). This page
is self-contained (inline CSS, no script): one row per suite validated in the run (status, passed
expectations, the failed ones with what the data showed and why the rule exists, a link to the GX page).
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestration.durable import atomic_write  # dependency-free (os only): one atomic write for the repo

ENTRY_PAGE = "summary.html"

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#222}
h1{font-size:1.4rem} table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{border:1px solid #ccc;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f3f3} .ok{color:#17692e;font-weight:600} .bad{color:#b00020;font-weight:600}
code{font-size:.85rem} ul{margin:.2rem 0;padding-left:1.1rem} .muted{color:#666}
"""


@dataclass(frozen=True)
class Entry:
    result: Any  # a GX ExpectationSuiteValidationResult
    page: str | None  # its Data Docs page (file path), when rendered
    run: str


def write_entry_page(docs_dir: Path, entries: list[Entry]) -> Path:
    """Write `summary.html` for the run's latest result per suite (failed suites first)."""
    from expectations.runner import call, observation, rule

    e = html.escape
    entries = sorted(entries, key=lambda x: (bool(x.result.success), x.result.suite_name))
    failing = sum(1 for x in entries if not x.result.success)
    rows = []
    for x in entries:
        stats, ok = x.result.statistics, bool(x.result.success)
        failed = "".join(
            f"<li><code>{e(call(r))}</code>: {e(observation(r))}"
            + (f" <span class=muted>({e(rule(r))})</span>" if rule(r) else "") + "</li>"
            for r in x.result.results if not r.success
        )
        link = f'<a href="{e(os.path.relpath(x.page, docs_dir))}">page</a>' if x.page else ""
        rows.append(
            f"<tr><td>{e(x.result.suite_name)}</td><td class={'ok' if ok else 'bad'}>{'passed' if ok else 'FAILED'}</td>"
            f"<td>{stats.get('successful_expectations', 0)}/{stats.get('evaluated_expectations', 0)}</td>"
            f"<td>{e(str(x.result.meta.get('validation_time', '')))}</td>"
            f"<td>{'<ul>' + failed + '</ul>' if failed else ''}</td><td>{link}</td></tr>"
        )
    run = entries[0].run if entries else ""
    index = ' and <a href="index.html">the GX index</a> (needs a network: it draws its table from a CDN)'
    body = (
        "<h1>Data quality: Great Expectations results</h1>"
        f"<p>Run <code>{e(run)}</code>: {len(entries)} suites validated, "
        f"<span class={'bad' if failing else 'ok'}>{failing} failing</span>. A failed suite links to its GX "
        f"Data Docs page{index if (docs_dir / 'index.html').exists() else ''}.</p>"
        "<table><tr><th>suite</th><th>status</th><th>passed</th><th>validated at</th>"
        "<th>failed expectations (observed, rule)</th><th>Data Docs</th></tr>" + "".join(rows) + "</table>"
    )
    page = (
        "<!DOCTYPE html><html><head><meta charset=utf-8><title>Data quality</title>"
        f"<style>{_CSS}</style></head><body>{body}</body></html>\n"
    )
    target = docs_dir / ENTRY_PAGE
    atomic_write(target, page)
    return target
