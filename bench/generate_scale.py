"""How long does the generator take, how much memory does it need, and how big is what it writes, per scale?

Generates `--days` extracts at each scale into a temporary folder (one child process per scale, so each
peak RSS is that scale's own) and prints, per scale, the wall time, the peak resident memory, rows per
entity of day 1, bytes written and seconds per unit of scale (JSON, then a table). Scale 1 must take well
under a minute, cost must grow linearly with scale (the s/scale column stays flat) and the peak RSS must
stay bounded (customers are generated in blocks, `bench/generator/blocks.py`): at most 3 GiB at
scale 10.

    python bench/generate_scale.py --scales 0.1 1 10 --days 2
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.generator.main import generate  # noqa: E402

COUNTED = ("customers", "orders", "order_items", "behavior_events", "communications", "service_tickets",
           "campaign_members")


def _rows(path: Path) -> int:
    with path.open("rb") as fh:
        return max(sum(1 for _ in fh) - 1, 0)  # physical lines minus the header (quoted newlines are rare)


def _child(out: Path, scale: float, days: int, seed: int) -> None:
    """Generate in this process and print seconds and peak RSS (JSON) for the parent."""
    t0 = time.perf_counter()
    generate(out, scale=scale, seed=seed, days=days)
    seconds = time.perf_counter() - t0
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"seconds": round(seconds, 2), "peak_rss_mib": round(peak_kib / 1024)}))


def measure(scale: float, days: int, seed: int) -> dict:
    out = Path(tempfile.mkdtemp(prefix=f"gen-{scale}-"))
    try:
        cmd = [sys.executable, __file__, "--child", str(out / "landing"), "--scales", str(scale),
               "--days", str(days), "--seed", str(seed)]
        run = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
        day1 = sorted(p for p in (out / "landing").iterdir() if p.name[:2] == "20")[0]
        rows = {e: _rows(f) for e in COUNTED for f in day1.glob(f"{e}.csv*") if f.suffix == ".csv"}
        size = sum(p.stat().st_size for p in (out / "landing").rglob("*") if p.is_file())
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return {"scale": scale, "days": days, **run, "bytes": size,
            "seconds_per_scale": round(run["seconds"] / scale, 2), "day1_rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", type=float, nargs="+", default=[0.1, 0.5, 1.0])
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)  # internal: one scale, this process
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.scales[0], args.days, args.seed)
        return
    results = [measure(s, args.days, args.seed) for s in args.scales]
    print(json.dumps(results, indent=1))
    print(f"\n{'scale':>6} {'seconds':>8} {'s/scale':>8} {'peak MiB':>9} {'MB':>8} {'order_items':>12} {'events':>10}")
    for r in results:
        print(f"{r['scale']:>6} {r['seconds']:>8} {r['seconds_per_scale']:>8} {r['peak_rss_mib']:>9} "
              f"{r['bytes'] / 1e6:>8.1f} {r['day1_rows'].get('order_items', 0):>12} "
              f"{r['day1_rows'].get('behavior_events', 0):>10}")


if __name__ == "__main__":
    main()
