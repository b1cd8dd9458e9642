"""The scan floor: DuckDB reading every extract file of the given days once and counting its rows.

No warehouse does less than read its input once, so a refresh is judged by how many times this floor it
costs. Every file listed in the days' manifests is read by DuckDB's CSV reader (header, every record, every
column as text); a file that is not plain UTF-8 (GBK, gzip) is first transcoded to a UTF-8 scratch file the
way the loader does it (orchestration/raw/transcode.py: DuckDB's encodings extension is not available
offline), and that transcoding is part of the floor. File paths go to DuckDB as parameters.

    python -m bench.floor LANDING --days 2025-06-24 [2025-06-25 ...]   (prints {"rows": N, "files": F})
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import duckdb

from orchestration import contract as c
from orchestration.raw.transcode import prepare

# every column as text, no types to judge: a record DuckDB cannot split (a planted short or long one) is
# skipped, so `rows` can be a few below the manifests' count
_COUNT = ("SELECT count(*) FROM read_csv($path, header = true, all_varchar = true, delim = ',', quote = '\"', "
          "escape = '\"', ignore_errors = true, max_line_size = 10000000)")


def scan_floor(landing: Path, days: list[str]) -> dict:
    """{"rows": records in every file of `days`, "files": how many files}."""
    rows = files = 0
    with tempfile.TemporaryDirectory(prefix="bench-floor-") as scratch, duckdb.connect() as con:
        for day in days:
            manifest = json.loads((landing / day / c.MANIFEST_NAME).read_text(encoding="utf-8"))
            for entry in manifest["files"]:
                source = landing / day / entry["file"]
                encoding = entry.get("encoding", "utf-8")
                plain = encoding.lower().replace("_", "-") in ("utf-8", "utf8") and source.suffix == ".csv"
                readable = source if plain else prepare(source, encoding, Path(scratch)).readable
                rows += con.execute(_COUNT, {"path": str(readable)}).fetchone()[0]
                files += 1
    return {"rows": rows, "files": files}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("landing", type=Path)
    ap.add_argument("--days", nargs="+", required=True)
    args = ap.parse_args()
    print(json.dumps(scan_floor(args.landing, args.days)))


if __name__ == "__main__":
    main()
