"""Validate pandas DataFrames against the JSON suites through Great Expectations 1.x Checkpoints.

    from expectations.runner import describe, failures, get_validator
    validator = get_validator(docs_dir=warehouse / "data_docs", run_name=run_id)
    result = validator.validate(df, "raw.orders")   # GX CheckpointResult (+ Data Docs page when it failed)
    result.success; [describe(r) for r in failures(result)]; validator.docs_page(result)

    validate_frame(df, "raw.orders")                 # no Data Docs: the simplest use

Each suite runs as GX's own chain: ExpectationSuite -> pandas whole-dataframe BatchDefinition ->
ValidationDefinition -> Checkpoint, with GX's stock UpdateDataDocsAction rendering the validation page
and the GX index into `docs_dir`. Results are GX's objects (CheckpointResult ->
ExpectationSuiteValidationResult -> ExpectationValidationResult); this module only words them: the
expectation with its arguments, the unexpected values, and where they are (the suite's `index_columns`,
e.g. `_source_file`/`_source_line`, passed to GX as `unexpected_index_column_names`), and the suite's
`meta.rule` (kept by GX on each expectation).

What GX does not provide, kept small: (1) an offline entry page (`expectations.offline`: GX's pages load
Bootstrap/jQuery from CDNs and the GX index draws its table with JavaScript); (2) a retention of
KEEP_RUNS validation pages per suite (GX keeps every page); (3) `docs="failures"` (the default): the
stock UpdateDataDocsAction, run only for a failed validation (a GX page costs a fraction of a second
to render; the check metadata and the entry page cover every validation either way).

One ephemeral GX context per (docs_dir, run): the GX index of a run lists that run's validations only.
great_expectations is imported lazily (importing it takes seconds), never at Definitions load.
"""

from __future__ import annotations

import functools
import os
import re
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from expectations import offline
from expectations.suites import load_suite, suite_meta, to_gx_suite

DOCS_SITE = "local"
KEEP_RUNS = 10  # validation pages kept per suite in Data Docs
EXAMPLES = 5  # unexpected values / rows shown per failed expectation
DocsFor = Literal["failures", "all"]


# --- words for GX results ---------------------------------------------------------------------------

def suite_results(result) -> list:
    """The ExpectationSuiteValidationResults of a CheckpointResult (or [result] for one of them)."""
    return list(result.run_results.values()) if hasattr(result, "run_results") else [result]


def failures(result) -> list:
    """The failed ExpectationValidationResults of a CheckpointResult / ExpectationSuiteValidationResult."""
    return [r for suite in suite_results(result) for r in suite.results if not r.success]


def column_of(kwargs: dict) -> str | None:
    if kwargs.get("column"):
        return kwargs["column"]
    if kwargs.get("column_list"):
        return "+".join(kwargs["column_list"])
    if kwargs.get("column_A"):
        return f"{kwargs['column_A']}={kwargs['column_B']}"
    return None


def call(evr) -> str:
    """The expectation with its arguments, e.g. expect_column_values_to_be_between(list_price, max_value=1e6)."""
    cfg = evr.expectation_config
    column = column_of(cfg.kwargs)
    skip = ("column", "column_A", "column_B", "column_list", "batch_id", "row_condition", "condition_parser")
    args = ", ".join(f"{k}={v}" for k, v in cfg.kwargs.items() if k not in skip)
    return f"{cfg.type}({column or ''}{', ' if column and args else ''}{args})"


def rule(evr) -> str:
    """Why the expectation exists: its `meta.rule` in the suite."""
    return str((evr.expectation_config.meta or {}).get("rule", ""))


def error(evr) -> str | None:
    """The first line of the exception an expectation raised (e.g. a missing column), else None."""
    info = evr.exception_info or {}
    for item in [info, *(v for v in info.values() if isinstance(v, dict))]:
        if item.get("raised_exception"):
            lines = [ln.strip() for ln in str(item.get("exception_message") or "").splitlines() if ln.strip()]
            return lines[0][:300] if lines else "raised an exception"
    return None


def examples(evr) -> list:
    """A few unexpected values (JSON-friendly)."""
    from great_expectations.util import convert_to_json_serializable

    return convert_to_json_serializable((evr.result or {}).get("partial_unexpected_list") or [])[:EXAMPLES]


def where(evr) -> list[str]:
    """A few unexpected rows named by the index columns, e.g. `_source_file=2025-06-24/orders.csv _source_line=7`."""
    res = evr.result or {}
    names = res.get("unexpected_index_column_names") or []
    out = []
    for row in (res.get("partial_unexpected_index_list") or [])[:EXAMPLES]:
        if isinstance(row, dict):
            out.append(" ".join(f"{c}={row[c]}" for c in names if c in row) or str(row))
        else:
            out.append(str(row))
    return out


def observation(evr) -> str:
    """What the data showed: the error, the unexpected values and where, or the observed value."""
    if err := error(evr):
        return f"error {err}"
    res = evr.result or {}
    if res.get("unexpected_count") is None:
        return f"observed {res.get('observed_value')}"
    text = f"{res['unexpected_count']} unexpected"
    if found := examples(evr):
        text += f", e.g. {', '.join(map(str, found[:3]))}"
    if rows := where(evr):
        text += f" at {'; '.join(rows[:3])}"
    return text


def describe(evr) -> str:
    return f"{call(evr)}: {observation(evr)}"


def summary(result) -> str:
    """One line per suite: `raw.orders: 7/7 expectations passed` (+ the failed ones)."""
    lines = []
    for suite in suite_results(result):
        stats = suite.statistics
        head = f"{suite.suite_name}: {stats['successful_expectations']}/{stats['evaluated_expectations']} expectations passed"
        failed = [describe(r) for r in suite.results if not r.success]
        lines.append(head + ("; failed: " + " | ".join(failed) if failed else ""))
    return "\n".join(lines)


# --- the validator ---------------------------------------------------------------------------------

@functools.cache
def _docs_on_failure_action():
    """GX's UpdateDataDocsAction that only runs for a failed validation (a custom action, GX's extension
    point: a subclass with its own `type`)."""
    from great_expectations.checkpoint import UpdateDataDocsAction

    class UpdateDataDocsOnFailureAction(UpdateDataDocsAction):
        type: Literal["update_data_docs_on_failure"] = "update_data_docs_on_failure"

        def run(self, checkpoint_result, action_context=None) -> dict:
            return {} if checkpoint_result.success else super().run(checkpoint_result, action_context)

    return UpdateDataDocsOnFailureAction


class Validator:
    """One ephemeral GX context: one Checkpoint per suite (created on first use), one pandas data source,
    the run's results in memory; Data Docs rendered into `docs_dir` when given."""

    def __init__(self, docs_dir: Path | None = None, run_name: str = "adhoc", docs: DocsFor = "failures"):
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        import great_expectations as gx
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )

        self.docs_dir = Path(docs_dir) if docs_dir else None
        self.run_name = run_name
        self.docs = docs
        config = DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False),
        )
        self.context = gx.get_context(mode="ephemeral", project_config=config)
        if self.docs_dir:
            self.docs_dir.mkdir(parents=True, exist_ok=True)
            self.context.add_data_docs_site(DOCS_SITE, {
                "class_name": "SiteBuilder",
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(self.docs_dir)},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            })
        self.source = self.context.data_sources.add_pandas("frames")
        self._checkpoints: dict[str, Any] = {}
        self._latest: dict[str, offline.Entry] = {}  # this run's latest result per suite (entry page)
        self._lock = threading.Lock()

    def _checkpoint(self, name: str):
        import great_expectations as gx
        from great_expectations.checkpoint import UpdateDataDocsAction

        if name not in self._checkpoints:
            suite = load_suite(name)
            gx_suite = self.context.suites.add(to_gx_suite(suite))
            batch = self.source.add_dataframe_asset(name).add_batch_definition_whole_dataframe("frame")
            definition = self.context.validation_definitions.add(
                gx.ValidationDefinition(name=name, data=batch, suite=gx_suite)
            )
            result_format: dict = {"result_format": "SUMMARY", "partial_unexpected_count": EXAMPLES * 4}
            if index_columns := suite_meta(suite).get("index_columns"):
                result_format["unexpected_index_column_names"] = index_columns
            action = UpdateDataDocsAction if self.docs == "all" else _docs_on_failure_action()
            actions = [action(name="data_docs", site_names=[DOCS_SITE])] if self.docs_dir else []
            self._checkpoints[name] = self.context.checkpoints.add(gx.Checkpoint(
                name=name, validation_definitions=[definition], actions=actions, result_format=result_format
            ))
        return self._checkpoints[name]

    def validate(self, df, suite_name: str, *, parameters: dict | None = None):
        """Run the suite's Checkpoint on `df`: a GX CheckpointResult; with docs_dir the Data Docs page (by
        the Checkpoint's action), the page retention and the offline entry page are updated too."""
        from great_expectations.core.run_identifier import RunIdentifier

        with self._lock:
            checkpoint = self._checkpoint(suite_name)
            run_id = RunIdentifier(run_name=self.run_name, run_time=datetime.now(UTC))
            result = checkpoint.run(
                batch_parameters={"dataframe": df}, expectation_parameters=parameters or {}, run_id=run_id
            )
            if self.docs_dir:
                page = self.docs_page(result)
                if page:
                    _prune_pages(self.docs_dir, suite_name)
                for suite in suite_results(result):
                    self._latest[suite.suite_name] = offline.Entry(suite, page, self.run_name)
                offline.write_entry_page(self.docs_dir, list(self._latest.values()))
        return result

    def docs_page(self, result) -> str | None:
        """File path of the Data Docs page of the (first) validation in a CheckpointResult, if rendered."""
        if not self.docs_dir:
            return None
        for key in result.run_results:
            urls = self.context.get_docs_sites_urls(resource_identifier=key, site_name=DOCS_SITE, only_if_exists=True)
            url = urls[0]["site_url"] if urls else None
            if url:
                return url[len("file://"):] if url.startswith("file://") else url
        return None

    @property
    def entry_page(self) -> Path | None:
        return self.docs_dir / offline.ENTRY_PAGE if self.docs_dir else None


_VALIDATORS: dict[tuple[str, str], Validator] = {}
_VALIDATORS_LOCK = threading.Lock()


def get_validator(docs_dir: Path | None = None, run_name: str = "adhoc", docs: DocsFor = "failures") -> Validator:
    """The process's Validator for (docs_dir, run_name): one GX context per run, so the GX index of a run
    lists that run's validations only. `docs="all"`: also render GX pages of passing validations."""
    key = (str(docs_dir or ""), run_name)
    with _VALIDATORS_LOCK:
        if key not in _VALIDATORS:
            for old in [k for k in _VALIDATORS if k[0] == key[0]]:
                del _VALIDATORS[old]  # a new run in the same folder: forget the previous run's context
            _VALIDATORS[key] = Validator(docs_dir, run_name, docs)
        return _VALIDATORS[key]


def validate_frame(df, suite_name: str, parameters: dict | None = None):
    """Validate a DataFrame against a suite (no Data Docs): a GX CheckpointResult."""
    return get_validator().validate(df, suite_name, parameters=parameters)


# --- retention (GX keeps every page) ------------------------------------------------------------------

_RUN_TIME = re.compile(r"^\d{8}T\d{6}(\.\d+)?Z$")


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
