"""What failed in a dbt build, in the words an on-call engineer needs: one line per failed model or test.

dagster-dbt raises a generic "the dbt CLI process failed" error; this reads dbt's own `run_results.json`
(and the manifest of the same invocation) and says, per failed node, what it is, which of our assets it
belongs to and why it failed. For the mart gates (`value_ranges`, `matches_pattern`) it also re-runs the
test's compiled query on the work file (read-only, a few rows) so the line shows the offending column and
observed values; other tests only show dbt's count (their rows may hold personal data).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb

from orchestration.settings import connect_duckdb

SHOW_ROWS = ("value_ranges", "matches_pattern")  # tests whose failing rows hold no personal data
MAX_ROWS = 3  # rows of a failing test shown on its line
FAILED = ("error", "fail", "runtime error")


def failed_nodes(run_results: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [r for r in run_results.get("results", []) if r.get("status") in FAILED]


def _asset_of(node: Mapping[str, Any]) -> str:
    """The Dagster asset key (<schema>/<model>) of a dbt node, by the translator's own rule."""
    # imported here: orchestration.assets.dbt imports this module
    from orchestration.assets.dbt import CrmDbtTranslator

    return CrmDbtTranslator().get_asset_key(node).to_user_string()


def _tested_model(test: Mapping[str, Any], manifest: Mapping[str, Any]) -> str | None:
    attached = test.get("attached_node") or next(
        (uid for uid in test.get("depends_on", {}).get("nodes", []) if uid.startswith("model.")), None
    )
    node = manifest.get("nodes", {}).get(attached) if attached else None
    return _asset_of(node) if node else None


def _sample_rows(compiled_sql: str, work_db: Path) -> str:
    """The first rows a failing test returns, as `col=value, ...; ...` (read-only on the work file)."""
    try:
        with connect_duckdb(work_db, read_only=True) as con:
            cur = con.execute(compiled_sql)  # dbt's own compiled test query, not built from data
            names = [d[0] for d in cur.description]
            rows = cur.fetchmany(MAX_ROWS)
    except duckdb.Error as error:  # the file is busy or gone: keep dbt's own message
        return f"(rows not shown: {str(error).splitlines()[0]})"
    return "; ".join(", ".join(f"{n}={v}" for n, v in zip(names, row, strict=True)) for row in rows)


def _line(result: Mapping[str, Any], manifest: Mapping[str, Any], work_db: Path) -> str:
    uid = result.get("unique_id", "")
    node = manifest.get("nodes", {}).get(uid, {})
    message = " ".join(str(result.get("message") or result.get("status")).split())
    if uid.startswith("test."):
        name = node.get("name", uid.rsplit(".", 1)[-1])
        model = _tested_model(node, manifest)
        line = f"dbt test {name}" + (f" on {model}" if model else "") + f" failed: {message}"
        kind = (node.get("test_metadata") or {}).get("name")
        if kind in SHOW_ROWS and result.get("status") == "fail" and result.get("compiled_code"):
            line += f": {_sample_rows(result['compiled_code'], work_db)}"
        return line
    what = uid.split(".", 1)[0]
    return f"dbt {what} {_asset_of(node) if node else uid} failed: {message}"


def summary(run_results: Mapping[str, Any], manifest: Mapping[str, Any], work_db: Path) -> str | None:
    """One message for a failed dbt build (None: no node failed). Its first line names the first failure
    (what an alert quotes); with several, one line per failed node follows."""
    failed = failed_nodes(run_results)
    if not failed:
        return None
    lines = [_line(r, manifest, work_db) for r in failed]
    todo = "nothing was published (BI keeps the previous warehouse): fix the model or the data and re-run"
    if len(lines) == 1:
        return f"{lines[0]}; {todo}"
    head = f"dbt build failed ({len(failed)} of {len(run_results.get('results', []))} nodes): {lines[0]} (+{len(lines) - 1} more)"
    return head + "\n" + "\n".join(f"  - {line}" for line in lines) + f"\n  {todo}"
