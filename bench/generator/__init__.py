"""Synthetic CRM extract generator: nightly extract folders plus the ground truth that grades the warehouse.

Entry point: `bench.generator.main.generate(out_dir, scale, seed, days, start_date)`.

Customers are generated in blocks of at most `blocks.BLOCK_CUSTOMERS` (`blocks.py`), so memory stays
bounded at any scale. For each block the generator builds an in-memory "world" (its customers, orders,
campaign memberships, tickets, ... over the whole timeline), decides which row versions each nightly
extract delivers (history on day 1, deltas after), plants the documented defects and appends its rows to
the CSV files; the last block writes the snapshot files and the manifests, then `_truth/` is completed.

It lives in `bench/`, outside the warehouse's `orchestration` package: the demo, the tests and the benchmarks
use it (through `crm-warehouse generate`), the Dagster code location never imports it.
Constants here are importable by tests and docs.
"""

from __future__ import annotations

from datetime import date, timedelta

from orchestration.contract import GENERIC_EMAIL_LOCAL_PARTS  # noqa: F401 - the one list, used by the generator

# History (the first order, event, ticket ...) starts on this date unless the caller says otherwise.
DEFAULT_START_DATE = date(2024, 1, 1)

# The first nightly extract (day 1, the full history) is taken this many days after the start date;
# day k is day 1 + (k - 1). With the default start date, day 1 is 2025-06-24.
FIRST_EXTRACT_OFFSET_DAYS = 540

def first_extract_date(start_date: date = DEFAULT_START_DATE) -> date:
    """The date of extract day 1 for a history that starts on `start_date`."""
    return start_date + timedelta(days=FIRST_EXTRACT_OFFSET_DAYS)
