"""Validate a pandas DataFrame against a JSON suite with Great Expectations 1.x, and build Data Docs.

    from expectations.runner import validate_frame
    outcome = validate_frame(df, "raw.orders")          # -> Outcome(success, failed=[...], ...)

    validator = get_validator(docs_dir=warehouse / "data_docs", run_name=run_id)
    outcome = validator.validate(df, "raw.orders", asset="raw/orders")   # + Data Docs page + summary

An ephemeral GX context holds the suites (loaded from `expectations/suites/*.json`), one pandas data
source and the run's validation results; with a `docs_dir`, every validation renders its Data Docs page
and the GX index there, and `summary.html` (self-contained, no CDN) lists the latest result per suite.
GX's own pages load Bootstrap/jQuery from CDNs: offline they are unstyled but readable, except the GX
index, whose table is drawn by JavaScript; `summary.html` is the offline entry point.

great_expectations is imported lazily (importing it takes seconds), never at Definitions load.
"""

from __future__ import annotations

import html
import json
import os
import re
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from expectations import SUITES_DIR
from orchestration.durable import atomic_write  # dependency-free (os only): one atomic write for the repo

DOCS_SITE = "local"
RESULTS_DIR = "results"  # <docs_dir>/results/<suite>.json: the latest outcome per suite (for summary.html)
SUMMARY_PAGE = "summary.html"
KEEP_RUNS = 10  # validation pages kept per suite in Data Docs
EXAMPLES = 5  # unexpected values / rows shown per failed expectation


class SuiteError(ValueError):
    """A suite file is missing or not a valid GX suite."""


# --- suites ---------------------------------------------------------------------------------------

def suite_path(name: str) -> Path:
    return SUITES_DIR / f"{name}.json"


def suite_names() -> list[str]:
    return sorted(p.name[: -len(".json")] for p in SUITES_DIR.glob("*.json"))


def load_suite(name: str) -> dict:
    """The suite's JSON (plain dict, no GX import)."""
    path = suite_path(name)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SuiteError(f"{path}: no such suite (known: {', '.join(suite_names())})") from None
    except json.JSONDecodeError as exc:
        raise SuiteError(f"{path}: not valid JSON ({exc})") from None


def suite_meta(suite: dict) -> dict:
    return suite.get("meta", {}).get("crm_warehouse", {})


def to_gx_suite(suite: dict):
    """A great_expectations ExpectationSuite from the JSON; every expectation must survive the round trip
    (GX silently drops an invalid expectation, so a count mismatch is an error here)."""
    import great_expectations as gx

    clean = {k: v for k, v in suite.items() if k in ("name", "expectations", "meta", "notes")}
    gx_suite = gx.ExpectationSuite(**json.loads(json.dumps(clean)))
    if len(gx_suite.expectations) != len(suite.get("expectations", [])):
        raise SuiteError(
            f"{suite_path(suite.get('name', '?'))}: {len(suite.get('expectations', []))} expectations in the file, "
            f"{len(gx_suite.expectations)} valid for great_expectations (see the log for the invalid ones)"
        )
    return gx_suite


# --- outcomes -------------------------------------------------------------------------------------

def _plain(value: Any) -> Any:
    """JSON-friendly copy of a GX result value (numpy scalars, Decimals, timestamps -> str/float/int)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "item"):
        try:
            return _plain(value.item())
        except (TypeError, ValueError):
            pass
    return str(value)


@dataclass(frozen=True)
class FailedExpectation:
    expectation: str  # e.g. expect_column_values_to_be_between
    column: str | None
    kwargs: dict  # the expectation's arguments (bounds, value set, regex, ...)
    rule: str  # meta.rule of the suite: why the expectation exists
    observed: Any = None  # observed_value (aggregate expectations)
    unexpected_count: int | None = None
    unexpected_examples: list = field(default_factory=list)  # a few unexpected values
    where: list = field(default_factory=list)  # a few unexpected rows named by the suite's index columns
    error: str | None = None  # the expectation raised (e.g. a missing column)

    def call(self) -> str:
        """The expectation with its arguments, e.g. expect_column_values_to_be_between(list_price, max_value=1e6)."""
        args = ", ".join(f"{k}={v}" for k, v in self.kwargs.items() if k not in ("column", "row_condition"))
        return f"{self.expectation}({self.column or ''}{', ' if self.column and args else ''}{args})"

    def observation(self) -> str:
        """What the data showed: the error, the unexpected values and where, or the observed value."""
        if self.error:
            return f"error {self.error}"
        if self.unexpected_count is not None:
            text = f"{self.unexpected_count} unexpected"
            if self.unexpected_examples:
                text += f", e.g. {', '.join(map(str, self.unexpected_examples[:3]))}"
            if self.where:
                text += f" at {'; '.join(map(str, self.where[:3]))}"
            return text
        return f"observed {self.observed}"

    def summary(self) -> str:
        return f"{self.call()}: {self.observation()}"


@dataclass(frozen=True)
class Outcome:
    suite: str
    success: bool
    evaluated: int
    successful: int
    failed: tuple[FailedExpectation, ...]
    rows: int
    seconds: float
    docs_page: str | None = None  # file path of this validation's Data Docs page

    def summary(self) -> str:
        head = f"{self.suite}: {self.successful}/{self.evaluated} expectations passed on {self.rows:,} rows"
        return head if self.success else head + "; failed: " + " | ".join(f.summary() for f in self.failed)


def _where(result: dict, index_columns: list[str]) -> list:
    rows = result.get("partial_unexpected_index_list") or []
    out = []
    for row in rows[:EXAMPLES]:
        if isinstance(row, dict) and index_columns:
            out.append(" ".join(f"{c}={row.get(c)}" for c in index_columns if c in row))
        else:
            out.append(row)
    return _plain(out)


def outcome_from_result(suite: dict, result, rows: int, seconds: float, index_columns: list[str]) -> Outcome:
    """Our summary of a GX ExpectationSuiteValidationResult (failed expectations, observed values)."""
    rules = {}
    for exp in suite.get("expectations", []):
        rules.setdefault(_signature(exp["type"], exp.get("kwargs", {})), exp.get("meta", {}).get("rule", ""))
    failed = []
    for r in result.results:
        if r.success:
            continue
        cfg = r.expectation_config
        kwargs = {k: v for k, v in dict(cfg.kwargs).items() if k not in ("batch_id",)}
        res = r.result or {}
        info = r.exception_info or {}
        error = None
        if info.get("raised_exception"):
            error = _first_line(info.get("exception_message"))
        failed.append(
            FailedExpectation(
                expectation=cfg.type,
                column=kwargs.get("column") or (
                    "+".join(kwargs["column_list"]) if kwargs.get("column_list") else None
                ) or (f"{kwargs['column_A']}={kwargs['column_B']}" if kwargs.get("column_A") else None),
                kwargs=_plain(kwargs),
                rule=rules.get(_signature(cfg.type, kwargs), ""),
                observed=_plain(res.get("observed_value")),
                unexpected_count=_plain(res.get("unexpected_count")),
                unexpected_examples=_plain((res.get("partial_unexpected_list") or [])[:EXAMPLES]),
                where=_where(res, index_columns),
                error=error,
            )
        )
    stats = result.statistics
    return Outcome(
        suite=suite["name"],
        success=bool(result.success),
        evaluated=int(stats.get("evaluated_expectations", 0)),
        successful=int(stats.get("successful_expectations", 0)),
        failed=tuple(failed),
        rows=rows,
        seconds=round(seconds, 3),
    )


def _signature(kind: str, kwargs: dict) -> str:
    """Identifies an expectation of a suite in a GX result (GX turns 0 into 0.0, adds batch_id, ...)."""
    keep = {k: kwargs.get(k) for k in ("column", "column_A", "column_B", "column_list", "regex", "min_value",
                                        "max_value", "row_condition")}
    keep = {k: float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v for k, v in keep.items()}
    return kind + json.dumps(_plain(keep), sort_keys=True, default=str)


def _first_line(text: str | None) -> str:
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()[:300]
    return ""


# --- the validator -------------------------------------------------------------------------------

class Validator:
    """One ephemeral GX context: suites loaded from JSON on first use, one pandas data source, results
    kept in memory for the run; Data Docs rendered into `docs_dir` when given."""

    def __init__(self, docs_dir: Path | None = None, run_name: str = "adhoc", render_passing: bool = False):
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        import great_expectations as gx
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )

        self.docs_dir = Path(docs_dir) if docs_dir else None
        self.run_name = run_name
        # A GX page costs ~0.4 s to render; by default only failed validations get one (summary.html
        # lists every validation either way).
        self.render_passing = render_passing
        config = DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False),
        )
        self.context = gx.get_context(mode="ephemeral", project_config=config)
        if self.docs_dir:
            self.docs_dir.mkdir(parents=True, exist_ok=True)
            self.context.add_data_docs_site(
                DOCS_SITE,
                {
                    "class_name": "SiteBuilder",
                    "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                                      "base_directory": str(self.docs_dir)},
                    "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                },
            )
        self.source = self.context.data_sources.add_pandas("frames")
        self._definitions: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _definition(self, suite: dict):
        import great_expectations as gx

        name = suite["name"]
        if name not in self._definitions:
            gx_suite = self.context.suites.add(to_gx_suite(suite))
            batch = self.source.add_dataframe_asset(name).add_batch_definition_whole_dataframe("frame")
            self._definitions[name] = self.context.validation_definitions.add(
                gx.ValidationDefinition(name=name, data=batch, suite=gx_suite)
            )
        return self._definitions[name]

    def validate(
        self,
        df,
        suite_name: str,
        *,
        asset: str | None = None,
        parameters: dict | None = None,
        context_info: dict | None = None,
    ) -> Outcome:
        """Validate `df` against the suite; with docs_dir also render Data Docs and the summary page.
        `context_info` (e.g. as_of, sampled) is shown next to the result in the summary page."""
        from great_expectations.core.run_identifier import RunIdentifier

        suite = load_suite(suite_name)
        index_columns = [c for c in suite_meta(suite).get("index_columns", []) if c in df.columns]
        result_format: dict = {"result_format": "SUMMARY", "partial_unexpected_count": EXAMPLES * 4}
        if index_columns:
            result_format["unexpected_index_column_names"] = index_columns
        start = time.monotonic()
        with self._lock:
            definition = self._definition(suite)
            run_id = RunIdentifier(run_name=self.run_name, run_time=datetime.now(UTC))
            result = definition.run(
                batch_parameters={"dataframe": df},
                expectation_parameters=parameters or {},
                result_format=result_format,
                run_id=run_id,
            )
            outcome = outcome_from_result(suite, result, len(df), time.monotonic() - start, index_columns)
            if self.docs_dir:
                if self.render_passing or not outcome.success:
                    page = self._render(suite_name, run_id, build_index=not outcome.success)
                    outcome = replace(outcome, docs_page=page)
                self._record(outcome, asset or suite_meta(suite).get("asset"), context_info or {})
        return outcome

    def _render(self, suite_name: str, run_id, build_index: bool) -> str | None:
        """Data Docs page of this validation; the GX index too when asked (it re-renders every result of
        the run, so it is rebuilt only when a suite fails; summary.html is updated every time).
        Rendering problems never fail a check."""
        try:
            keys = [
                k for k in self.context.validation_results_store.list_keys()
                if k.expectation_suite_identifier.name == suite_name and k.run_id == run_id
            ]
            self.context.build_data_docs(site_names=[DOCS_SITE], resource_identifiers=keys, build_index=build_index)
            if not keys:
                return None
            urls = self.context.get_docs_sites_urls(resource_identifier=keys[0], site_name=DOCS_SITE)
            url = urls[0]["site_url"] if urls else None
            _prune_pages(self.docs_dir, suite_name)
            return url[len("file://"):] if url and url.startswith("file://") else url
        except Exception as exc:  # noqa: BLE001 - docs are a report, not the gate
            return f"(Data Docs not rendered: {_first_line(str(exc))})"

    def _record(self, outcome: Outcome, asset: str | None, info: dict) -> None:
        record = {
            "asset": asset,
            "run": self.run_name,
            "validated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            **{k: _plain(v) for k, v in info.items()},
            **_plain(asdict(outcome)),
        }
        results = self.docs_dir / RESULTS_DIR
        results.mkdir(parents=True, exist_ok=True)
        _atomic_write(results / f"{outcome.suite}.json", json.dumps(record, indent=1, ensure_ascii=False))
        write_summary(self.docs_dir)


_VALIDATORS: dict[tuple[str, str], Validator] = {}
_VALIDATORS_LOCK = threading.Lock()


def get_validator(docs_dir: Path | None = None, run_name: str = "adhoc", render_passing: bool = False) -> Validator:
    """The process's Validator for (docs_dir, run_name): one GX context per run, so the GX index of a run
    lists that run's validations only. `render_passing`: also render GX pages of passing validations."""
    key = (str(docs_dir or ""), run_name)
    with _VALIDATORS_LOCK:
        if key not in _VALIDATORS:
            for old in [k for k in _VALIDATORS if k[0] == key[0]]:
                del _VALIDATORS[old]  # a new run in the same folder: forget the previous run's context
            _VALIDATORS[key] = Validator(docs_dir, run_name, render_passing)
        return _VALIDATORS[key]


def validate_frame(df, suite_name: str, parameters: dict | None = None) -> Outcome:
    """Validate a DataFrame against a suite (no Data Docs): the runner's simplest use."""
    return get_validator().validate(df, suite_name, parameters=parameters)


# --- Data Docs housekeeping and the offline summary page -------------------------------------------

def _atomic_write(path: Path, text: str) -> None:
    atomic_write(path, text)


def _prune_pages(docs_dir: Path, suite_name: str) -> None:
    """Keep the validation pages of the last KEEP_RUNS runs per suite (they otherwise pile up nightly)."""
    base = docs_dir / "validations" / Path(*suite_name.split("."))
    if not base.is_dir():
        return
    # run folders hold <run_time> folders (20250627T020000.123456Z); other folders are nested suites
    runs = sorted(
        (p for p in base.iterdir() if p.is_dir() and any(_RUN_TIME.match(c.name) for c in p.iterdir())),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in runs[KEEP_RUNS:]:
        for f in sorted(old.rglob("*"), reverse=True):
            f.unlink() if f.is_file() else f.rmdir()
        old.rmdir()


_RUN_TIME = re.compile(r"^\d{8}T\d{6}(\.\d+)?Z$")

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#222}
h1{font-size:1.4rem} table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{border:1px solid #ccc;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f3f3} .ok{color:#17692e;font-weight:600} .bad{color:#b00020;font-weight:600}
code{font-size:.85rem} ul{margin:.2rem 0;padding-left:1.1rem} .muted{color:#666}
"""


def write_summary(docs_dir: Path) -> Path:
    """`summary.html`: the latest result of every suite (status, failed expectations with observed values,
    link to the GX page), self-contained (inline CSS, no script, no CDN)."""
    records = []
    for path in sorted((docs_dir / RESULTS_DIR).glob("*.json")):
        try:
            records.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError):
            continue
    records.sort(key=lambda r: (r.get("success", True), r.get("suite", "")))
    failing = sum(1 for r in records if not r.get("success"))
    latest_run = max(records, key=lambda r: r.get("validated_at", "")).get("run") if records else None
    e = html.escape
    rows = []
    for r in records:
        page = r.get("docs_page") or ""
        extra = ", ".join(f"{k}={r[k]}" for k in ("as_of", "sampled", "rows_total") if k in r)
        link = f'<a href="{e(os.path.relpath(page, docs_dir))}">page</a>' if page.startswith("/") else e(page)
        failed = "".join(
            f"<li><code>{e(fe.call())}</code>: {e(fe.observation())}"
            f"{' <span class=muted>(' + e(fe.rule) + ')</span>' if fe.rule else ''}</li>"
            for fe in (FailedExpectation(**f) for f in r.get("failed", []))
        )
        if r.get("run") != latest_run:
            extra = (extra + ", " if extra else "") + "not re-validated in the latest run"
        rows.append(
            f"<tr><td>{e(r.get('suite', ''))}<br><span class=muted>{e(str(r.get('asset') or ''))}</span></td>"
            f"<td class={'ok' if r.get('success') else 'bad'}>{'passed' if r.get('success') else 'FAILED'}</td>"
            f"<td>{r.get('successful', 0)}/{r.get('evaluated', 0)}</td><td>{r.get('rows', 0):,}</td>"
            f"<td>{e(str(r.get('run', '')))}<br><span class=muted>{e(r.get('validated_at', ''))} {e(extra)}</span></td>"
            f"<td>{'<ul>' + failed + '</ul>' if failed else ''}</td><td>{link}</td></tr>"
        )
    gx_index = docs_dir / "index.html"
    index_note = (
        ' and <a href="index.html">the GX index</a> (rebuilt when a suite fails; it draws its table with '
        "JavaScript from a CDN, so offline use this page)"
    ) if gx_index.exists() else ""
    body = (
        "<h1>Data quality: Great Expectations results</h1>"
        f"<p>{len(records)} suites, <span class={'bad' if failing else 'ok'}>{failing} failing</span> "
        "(latest result per suite; a suite not re-validated in the latest run, e.g. because an upstream gate "
        f"failed, keeps its older result). Each suite links to its GX Data Docs page{index_note}.</p>"
        "<table><tr><th>suite / asset</th><th>status</th><th>passed</th><th>rows</th><th>run</th>"
        "<th>failed expectations (observed)</th><th>Data Docs</th></tr>" + "".join(rows) + "</table>"
    )
    page = (
        "<!DOCTYPE html><html><head><meta charset=utf-8><title>Data quality</title>"
        f"<style>{_CSS}</style></head><body>{body}</body></html>\n"
    )
    target = docs_dir / SUMMARY_PAGE
    _atomic_write(target, page)
    return target
