"""One measurement = one child process: its wall time and peak memory, never mixed with another's.

`measure(cmd, log)` starts `python -m bench.measure --log LOG -- CMD...`, a small wrapper process that runs
CMD (output to LOG) and reports, as one JSON line:

- `seconds`: wall time of CMD, process start to exit (imports, Dagster, dbt and all);
- `peak_rss_mib`: the largest resident set of any single process of CMD's tree (the kernel's
  `getrusage(RUSAGE_CHILDREN).ru_maxrss` of the wrapper, which only ever waited for this one CMD);
- `peak_tree_rss_mib`: the largest SUM of resident sets of CMD and all its descendants (e.g. the Dagster
  process plus its dbt child), sampled from /proc every 0.2 s (a short peak between samples is missed).

psutil is not in requirements.lock, hence /proc (Linux only, as the RUSAGE figure).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

from orchestration.errors import CrmWarehouseError

REPO = Path(__file__).resolve().parents[1]
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _tree_rss(root: int) -> int:
    """Bytes resident in `root` and every process below it (a snapshot of /proc)."""
    parent: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            parent[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, frontier = {root}, [root]
    while frontier:
        kids = [p for p, pp in parent.items() if pp in frontier and p not in tree]
        tree.update(kids)
        frontier = kids
    total = 0
    for pid in tree:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
        except (OSError, IndexError, ValueError):
            continue
    return total


def _wrapper(cmd: list[str], log: Path) -> dict:
    """Run `cmd` in this (fresh) process's only child; its time and memory."""
    peak = [0]
    with log.open("ab") as fh:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT)

        def sample() -> None:
            while proc.poll() is None:
                peak[0] = max(peak[0], _tree_rss(proc.pid))
                time.sleep(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        returncode = proc.wait()
        seconds = time.perf_counter() - t0
        sampler.join()
    largest_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    return {"seconds": round(seconds, 3), "peak_rss_mib": round(largest_kib / 1024, 1),
            "peak_tree_rss_mib": round(max(peak[0], largest_kib * 1024) / 2**20, 1), "returncode": returncode}


def measure(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> dict:
    """Time and peak memory of `cmd` in its own process tree (environment `env`, default this one's);
    raise CrmWarehouseError with the end of `log` if it fails."""
    log.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    wrapper = [sys.executable, "-m", "bench.measure", "--log", str(log), "--", *cmd]
    proc = subprocess.run(wrapper, capture_output=True, text=True, env=env, cwd=REPO)
    if proc.returncode != 0:
        raise CrmWarehouseError(f"bench: the measuring wrapper failed: {proc.stderr.strip()[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if result.pop("returncode"):
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise CrmWarehouseError(f"bench: {' '.join(cmd[2:5])} ... failed (log: {log}):\n{tail}")
    return result


def python(module: str, *args: str) -> list[str]:
    """The command line running `module` with this interpreter."""
    return [sys.executable, "-m", module, *args]


def main() -> None:
    ap = argparse.ArgumentParser(description="internal: run one command and report its time and memory")
    ap.add_argument("--log", type=Path, required=True)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    print(json.dumps(_wrapper(cmd, args.log)))


if __name__ == "__main__":
    main()
