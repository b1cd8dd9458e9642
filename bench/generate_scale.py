"""How long does the generator take, and how big is what it writes, per scale factor?

Generates `--days` extracts at each scale into a temporary folder and prints, per scale, the wall time,
rows per entity of day 1, bytes written and seconds per unit of scale (JSON, then a table). The contract
says scale 1 must take well under a minute and cost must grow linearly with scale: the last column
should stay flat.

    python bench/generate_scale.py --scales 0.1 0.5 1 --days 2
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orchestration.generate.main import generate  # noqa: E402

COUNTED = ("customers", "orders", "order_items", "behavior_events", "communications", "service_tickets",
           "campaign_members")


def _rows(path: Path) -> int:
    with path.open("rb") as fh:
        return max(sum(1 for _ in fh) - 1, 0)  # physical lines minus the header (quoted newlines are rare)


def measure(scale: float, days: int, seed: int) -> dict:
    out = Path(tempfile.mkdtemp(prefix=f"gen-{scale}-"))
    try:
        t0 = time.perf_counter()
        generate(out / "landing", scale=scale, seed=seed, days=days)
        seconds = time.perf_counter() - t0
        day1 = sorted(p for p in (out / "landing").iterdir() if p.name[:2] == "20")[0]
        rows = {e: _rows(f) for e in COUNTED for f in day1.glob(f"{e}.csv*") if f.suffix == ".csv"}
        size = sum(p.stat().st_size for p in (out / "landing").rglob("*") if p.is_file())
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return {"scale": scale, "days": days, "seconds": round(seconds, 2), "bytes": size,
            "seconds_per_scale": round(seconds / scale, 2), "day1_rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", type=float, nargs="+", default=[0.1, 0.5, 1.0])
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    results = [measure(s, args.days, args.seed) for s in args.scales]
    print(json.dumps(results, indent=1))
    print(f"\n{'scale':>6} {'seconds':>8} {'s/scale':>8} {'MB':>8} {'order_items':>12} {'events':>10}")
    for r in results:
        print(f"{r['scale']:>6} {r['seconds']:>8} {r['seconds_per_scale']:>8} {r['bytes'] / 1e6:>8.1f} "
              f"{r['day1_rows'].get('order_items', 0):>12} {r['day1_rows'].get('behavior_events', 0):>10}")


if __name__ == "__main__":
    main()
