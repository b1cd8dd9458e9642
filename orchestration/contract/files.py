"""How extract files are named and read, and what the raw zone adds to every row.

An entity's file is `<entity>.csv` (`Entity.file_name`); a folder may carry a manifest; the loader accepts
these encodings. The raw loader writes each accepted row to Parquet with the lineage columns below (the
dbt source yml and the staging models are generated from this list: dbt_project/scripts/gen_sources.py).
"""

from __future__ import annotations

MANIFEST_NAME = "_manifest.json"
SUPPORTED_ENCODINGS = ("utf-8", "utf-8-sig", "gbk", "gb18030")

#: Lineage columns of every raw Parquet row, as (name, DuckDB type, description); `_batch` is the hive
#: partition of the raw zone (it reads back as text: staging casts it to DATE).
LINEAGE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("_extract_date", "DATE", "date of the extract folder the row came from"),
    (
        "_source_file",
        "VARCHAR",
        "extract file the row came from, relative to the landing dir (e.g. 2025-06-24/orders.csv)",
    ),
    ("_source_line", "BIGINT", "CSV record number of the row in _source_file (header = 1)"),
    ("_loaded_at", "TIMESTAMP", "when the raw loader wrote the row"),
    (
        "_batch",
        "DATE",
        "load batch (hive partition); equals _extract_date except for late-arriving rows released in a later batch",
    ),
)
