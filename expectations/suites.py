"""The JSON suites of `expectations/suites/`: read them (plain dicts, no GX import) and turn one into a GX
ExpectationSuite (imports great_expectations, lazily)."""

from __future__ import annotations

import json
from pathlib import Path

from expectations import SUITES_DIR


class SuiteError(ValueError):
    """A suite file is missing or not a valid GX suite."""


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
    """Our part of the suite's meta: asset, frame (rows | files), index_columns (name an unexpected row)."""
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
