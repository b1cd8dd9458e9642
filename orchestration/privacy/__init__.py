"""Privacy: the right to be forgotten (`crm-warehouse forget`) and the list that keeps forgotten people out.

| module          | holds                                                                                     |
|-----------------|-------------------------------------------------------------------------------------------|
| `suppress.py`   | the forgotten list (keyed hashes, no personal data) and the raw loader's filter           |
| `forget.py`     | the command: a thin coordinator of the steps below, under the warehouse lock              |
| `person.py`     | who: the person's source customer ids (duplicates via the identity map), orders, emails   |
| `matching.py`   | which values are forgotten (Sweeper: identifier values hashed against the list)           |
| `targets.py`    | where identifiers are (tables, Parquet files) and the SQL that counts/deletes their rows   |
|                 | (which columns are keys: `orchestration/column_roles.py`, from dbt meta and the contract) |
| `published.py`  | the serving file, snapshots and Parquet exports (through `serving/rewrite.py`)            |
| `raw_zone.py`   | the raw zone (through `RawZone` and `raw/accounting.py`)                                  |
| `work_file.py`  | the work file: rows deleted, ops tables and `ops.forget_log` rebuilt                      |
| `text_files.py` | text files redacted, scratch copies removed, landing lines counted                        |
| `forget_log.py` | the forget record (`WAREHOUSE/ops/forget_log/`) and `ops.forget_log`                      |
"""
