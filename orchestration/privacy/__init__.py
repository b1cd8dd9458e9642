"""Privacy: the right to be forgotten (`crm-warehouse forget`) and the list that keeps forgotten people out.

| module        | holds                                                                                  |
|---------------|----------------------------------------------------------------------------------------|
| `suppress.py` | the forgotten list (keyed hashes, no personal data) and the raw loader's filter        |
| `forget.py`   | erasing one person from the published file, snapshots, Parquet exports, raw zone, work |
"""
