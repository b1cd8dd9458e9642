"""Where a run's time goes: seconds per stage, read from the run's own log (Dagster's step events).

Every `crm-warehouse run` writes its Dagster events to WAREHOUSE/logs/run-*.log; each finished step has a
line `... - <step> - STEP_SUCCESS - Finished execution of step "<step>" in 7.58s.` (Dagster's
`format_duration`: 8.3ms, 533ms, 5.6s, 4m52s, 1h4m). The warehouse job runs its steps one after the other
(in-process executor), so the stage seconds add up to the job; what the end-to-end time has on top
(process start, imports, loading the definitions, lock, run setup) is the `overhead` stage.
"""

from __future__ import annotations

import re
from pathlib import Path

from orchestration.errors import CrmWarehouseError

# stage -> how its step keys look (first match wins; order matters: GX checks before ingest's raw_*)
STAGES: tuple[tuple[str, re.Pattern], ...] = (
    ("gx_checks", re.compile(r"_great_expectations$|^marts_have_rows$")),
    ("ingest", re.compile(r"^raw_extracts$|^ops_load_tables$")),
    ("dbt", re.compile(r"^crm_dbt_")),
    ("ml", re.compile(r"^ml_")),
    ("publish", re.compile(r"^serving__")),
    ("report", re.compile(r"^report__")),
)
STAGE_NAMES = (*(name for name, _ in STAGES), "other_steps", "overhead")

_STEP = re.compile(r' - STEP_SUCCESS - Finished execution of step "([^"]+)" in ([0-9.hms]+)\.$')
_PART = re.compile(r"([0-9.]+)(ms|h|m|s)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration_seconds(text: str) -> float:
    """Seconds of a Dagster duration: '533ms' -> 0.533, '4m52s' -> 292.0, '1h4m' -> 3840.0."""
    parts = _PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a Dagster duration: {text!r}")
    return sum(float(n) * _UNIT[u] for n, u in parts)


def step_seconds(log: Path) -> dict[str, float]:
    """Seconds of every step that succeeded in the run logged in `log`."""
    steps: dict[str, float] = {}
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        m = _STEP.search(line)
        if m:
            steps[m.group(1)] = steps.get(m.group(1), 0.0) + duration_seconds(m.group(2))
    if not steps:
        raise CrmWarehouseError(f"bench: no finished Dagster step in {log}: did the run log change its format?")
    return steps


def stage_of(step: str) -> str:
    return next((name for name, pattern in STAGES if pattern.search(step)), "other_steps")


def stage_seconds(log: Path, end_to_end: float) -> dict[str, float]:
    """{stage: seconds} for every name in STAGE_NAMES (0.0 when a stage ran no step)."""
    stages = dict.fromkeys(STAGE_NAMES, 0.0)
    for step, seconds in step_seconds(log).items():
        stages[stage_of(step)] += seconds
    stages["overhead"] = max(end_to_end - sum(stages.values()), 0.0)
    return {k: round(v, 3) for k, v in stages.items()}


def run_log(warehouse: Path, before: set[Path]) -> Path:
    """The log file the run just made (the one in WAREHOUSE/logs that was not there before)."""
    new = sorted(set((warehouse / "logs").glob("run-*.log")) - before)
    if len(new) != 1:
        raise CrmWarehouseError(f"bench: expected one new run log in {warehouse / 'logs'}, found {len(new)}")
    return new[0]
