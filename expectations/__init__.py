"""Great Expectations quality gates: suites stored as JSON (`expectations/suites/`, read by
`expectations.suites`), run on pandas DataFrames through GX Checkpoints with GX's Data Docs action
(`expectations.runner`), plus the offline entry page of the Data Docs folder (`expectations.offline`).

Suites, two per table, named after the Dagster asset they guard:

| suite                        | validated against                                                  |
|------------------------------|--------------------------------------------------------------------|
| `raw.<entity>`               | the raw zone's rows (every file; a deterministic sample when big)  |
| `raw.<entity>.files`         | one row per loaded extract file: audit counts, quarantine rate,   |
|                              | age vs the run's as_of, and facts computed in DuckDB over all rows |

The suites are generated from the extract contract (`python -m expectations.build_raw_suites`). The marts
have no GX suite: their rules are dbt tests in the marts' yml (keys, not-null, accepted values,
`value_ranges`, `matches_pattern`, `keyed_hash`), run by `dbt build` and shown as Dagster asset checks.
A "facts" column is named by convention (`row_count`, `null_count__<col>`, `duplicate_count__<a>__<b>`,
`conflict_count__<key>`, `min__<col>`, `max__<col>`) so the SQL that computes it is derived from the suite (`expectations.facts`).

Nothing here imports great_expectations at import time (it takes seconds); the runner imports it lazily.
"""

from pathlib import Path

SUITES_DIR = Path(__file__).resolve().parent / "suites"
