"""`crm-warehouse bench`: per scale, generate (cached), then measure side by side in one invocation.

For each scale, every measurement is its own child process (bench/measure.py: wall time, peak RSS of the
largest process and of the whole process tree), in this order:

1. generate `1 + delta_days` extract days (`crm-warehouse generate`), cached under CACHE by scale, seed,
   days and a hash of the generator and contract source; the figures of the generation that made the
   cache are kept with it;
2. the scan floor: DuckDB reading every file of the history day once (bench/floor.py);
3. the full refresh: `crm-warehouse run --as-of <history day>` into an empty warehouse (stages from the
   run's log, bench/stages.py);
4. the pandas way on the same input (bench/pandas_way.py), checked equal to the published file;
5. the nightly refresh: `crm-warehouse run` into the same warehouse, loading the delta days (about 1 % of
   the history's rows: the measured share is in the JSON);
6. the pandas way on everything up to the last day, checked equal to the published file again.

The warehouse of each scale stays in CACHE/work-<scale>/ for inspection (removed by the next bench run).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
from collections.abc import Callable
from pathlib import Path

from bench import stages
from bench.compare import compare
from bench.measure import REPO, measure, python
from orchestration.errors import CrmWarehouseError

DEFAULT_DELTA_DAYS = 3  # one delta day is ~0.4 % of the history's rows at scale 0.1 and 1: three make ~1 %
STEPS = ("generate", "scan floor", "full refresh", "pandas (full)", "nightly refresh", "pandas (nightly)")


def parse_scales(text: str) -> list[float]:
    """'0.1,1,10' -> [0.1, 1.0, 10.0]; every scale > 0."""
    try:
        scales = [float(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise CrmWarehouseError(f"--scales {text!r}: expected comma-separated numbers, e.g. 0.1,1,10") from None
    if not scales or any(s <= 0 for s in scales):
        raise CrmWarehouseError(f"--scales {text!r}: every scale must be > 0")
    return scales


def child_env() -> dict[str, str]:
    """The environment of every measured run: this one, a PII key (the public demo key if none is set: the
    data are synthetic), no DAGSTER_HOME (ephemeral instance: a bench run never lands in your Dagster UI)."""
    from orchestration.settings import DEMO_PII_KEY, PII_KEY_ENV

    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env.setdefault(PII_KEY_ENV, DEMO_PII_KEY)
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return env


def _source_hash() -> str:
    """Of the generator's and the contract's source: a changed generator does not reuse the cache."""
    digest = hashlib.sha256()
    for pattern in ("bench/generator/**/*.py", "orchestration/contract*.py", "orchestration/contract/**/*.py"):
        for path in sorted(REPO.glob(pattern)):
            digest.update(path.relative_to(REPO).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def _manifests(landing: Path) -> list[tuple[str, dict]]:
    return [(p.parent.name, json.loads(p.read_text(encoding="utf-8")))
            for p in sorted(landing.glob("20*/_manifest.json"))]


def cached_landing(cache: Path, scale: float, seed: int, days: int, env: dict, logs: Path) -> tuple[Path, dict]:
    """The landing folder of (scale, seed, days), generated now unless cached; (path, generation figures)."""
    folder = cache / f"scale{scale:g}-seed{seed}-days{days}-{_source_hash()}"
    record = folder / "generation.json"
    if record.is_file():
        return folder / "landing", {**json.loads(record.read_text()), "cached": True}
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    cmd = python("orchestration.cli", "generate", "--scale", str(scale), "--seed", str(seed), "--days", str(days),
                 "--out", str(folder / "landing"))
    figures = measure(cmd, logs / "generate.log", env)
    record.write_text(json.dumps(figures))
    return folder / "landing", {**figures, "cached": False}


def _input_size(landing: Path) -> dict:
    days = _manifests(landing)
    rows = [sum(f["rows"] for f in m["files"]) for _, m in days]
    size = [sum((landing / d / f["file"]).stat().st_size for f in m["files"]) for d, m in days]
    return {"days": [d for d, _ in days], "history_rows": rows[0], "history_bytes": size[0],
            "delta_rows": sum(rows[1:]), "delta_bytes": sum(size[1:]),
            "delta_rows_pct": round(100 * sum(rows[1:]) / rows[0], 3)}


def _run(landing: Path, warehouse: Path, as_of: str | None, env: dict, log: Path) -> dict:
    before = set((warehouse / "logs").glob("run-*.log"))
    cmd = python("orchestration.cli", "run", "--landing", str(landing), "--warehouse", str(warehouse))
    figures = measure(cmd + (["--as-of", as_of] if as_of else []), log, env)
    run_log = stages.run_log(warehouse, before)
    return {**figures, "stages": stages.stage_seconds(run_log, figures["seconds"]), "log": str(run_log)}


def _pandas(landing: Path, out: Path, as_of: str, env: dict, log: Path) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    figures = measure(python("bench.pandas_way", str(landing), "--out", str(out), "--as-of", as_of), log, env)
    rows = json.loads(log.read_text().strip().splitlines()[-1])["rows"]
    return {**figures, "rows": rows}


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b else None


def bench_scale(scale: float, seed: int, delta_days: int, cache: Path, step: Callable[[str], None]) -> dict:
    """Every figure of one scale (see the module docstring); `step(name)` is called as each step starts."""
    env = child_env()
    work = cache / f"work-{scale:g}"
    shutil.rmtree(work, ignore_errors=True)
    logs, warehouse = work / "bench_logs", work / "warehouse"
    step("generate")
    landing, generation = cached_landing(cache, scale, seed, 1 + delta_days, env, logs)
    size = _input_size(landing)
    history, last = size["days"][0], size["days"][-1]
    step("scan floor")
    floor = measure(python("bench.floor", str(landing), "--days", history), logs / "floor.log", env)
    floor.update(json.loads((logs / "floor.log").read_text().strip().splitlines()[-1]))
    step("full refresh")
    full = _run(landing, warehouse, history, env, logs / "full_refresh.log")
    step("pandas (full)")
    pandas_full = _pandas(landing, work / "pandas_full", history, env, logs / "pandas_full.log")
    equal_full = compare(work / "pandas_full", warehouse / "crm.duckdb")
    step("nightly refresh")
    nightly = _run(landing, warehouse, None, env, logs / "nightly_refresh.log")
    step("pandas (nightly)")
    pandas_nightly = _pandas(landing, work / "pandas_nightly", last, env, logs / "pandas_nightly.log")
    equal_nightly = compare(work / "pandas_nightly", warehouse / "crm.duckdb")
    warehouse_bytes = sum(p.stat().st_size for p in warehouse.rglob("*") if p.is_file())
    return {
        "scale": scale, "seed": seed, "input": size, "generate": generation, "scan_floor": floor,
        "full_refresh": full, "nightly_refresh": nightly, "pandas_full": pandas_full,
        "pandas_nightly": pandas_nightly, "warehouse_bytes": warehouse_bytes,
        "equal": {"full_refresh": equal_full, "nightly_refresh": equal_nightly,
                  "all": equal_full["equal"] and equal_nightly["equal"]},
        "ratios": {
            "full_over_floor": _ratio(full["seconds"], floor["seconds"]),
            "nightly_over_full": _ratio(nightly["seconds"], full["seconds"]),
            "ours_over_pandas_time": _ratio(full["seconds"], pandas_full["seconds"]),
            "ours_over_pandas_memory": _ratio(full["peak_tree_rss_mib"], pandas_full["peak_tree_rss_mib"]),
        },
    }


def machine() -> dict:
    """What the figures were measured on, and the DuckDB limits the runs had (README: configuration)."""
    import duckdb

    with open("/proc/meminfo") as fh:
        mem_kib = int(next(line for line in fh if line.startswith("MemTotal")).split()[1])
    return {"cpus": os.cpu_count(), "cpus_usable": len(os.sched_getaffinity(0)),
            "memory_gib": round(mem_kib / 2**20, 1), "platform": platform.platform(),
            "python": platform.python_version(), "duckdb": duckdb.__version__,
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
            "settings": {k: v for k, v in sorted(os.environ.items()) if k.startswith("CRM_DUCKDB_")}}
