"""Ground truth under `<out>/_truth/`: what the warehouse must find, computed from what was MEANT.

Expected totals come from the in-memory row versions after delta semantics as of the last day (latest
version per key by (updated_at, extract day), deleted keys removed, late arrivals included once their
parent arrived, planted dirty rows never part of it), not from re-reading the CSV files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from orchestration import contract as c

from .common import ID_PREFIX, fmt_ids
from .segments import SEGMENTS

TRUTH_DIR = "_truth"
DIRTY_ROWS_COLUMNS = ["entity", "file", "line", "defect", "column", "released_on"]
DIRTY_FIELDS_COLUMNS = ["entity", "key", "column", "defect", "file", "line"]
TRICKY_COLUMNS = ["entity", "file", "line", "column", "value", "trick"]


def current(versions: pd.DataFrame, entity: str) -> pd.DataFrame:
    """Latest version of every key (by updated_at, then extract day), deleted keys removed."""
    key = list(c.entity(entity).key)
    multi = versions.duplicated(key, keep=False).to_numpy()
    latest = (
        versions[multi].sort_values(["updated_at", "_day"], kind="stable").drop_duplicates(key, keep="last")
    )
    last = pd.concat([versions[~multi], latest])
    return last[~last["is_deleted"].to_numpy()]


def _money(cents: float) -> str:
    cents = int(round(cents))
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def expected_totals(versions: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """metric, period, value rows (see the module docstring for the delta semantics)."""
    orders = current(versions["orders"], "orders")
    items = current(versions["order_items"], "order_items")
    done = orders[orders["status"] == "completed"][["order_id", "order_date"]]
    lines = items.merge(done, on="order_id", how="inner")
    month = lines["order_date"].to_numpy().astype("datetime64[M]").astype(str)
    net = pd.Series(lines["_net"].to_numpy()).groupby(month).sum()
    units = pd.Series(lines["quantity"].to_numpy()).groupby(month).sum()
    customers = current(versions["customers"], "customers")
    rows = [("net_revenue", m, _money(v)) for m, v in net.sort_index().items()]
    rows += [("units", m, str(int(v))) for m, v in units.sort_index().items()]
    rows += [
        ("orders", "all", str(len(orders))),
        ("customers", "all", str(len(customers))),
        ("customers_dedup", "all", str(customers["_person"].nunique())),
        ("tickets", "all", str(len(current(versions["service_tickets"], "service_tickets")))),
        ("campaign_members", "all", str(len(current(versions["campaign_members"], "campaign_members")))),
    ]
    return pd.DataFrame(rows, columns=["metric", "period", "value"])


def write_truth(
    out_dir: Path,
    customers: pd.DataFrame,
    versions: dict[str, pd.DataFrame],
    dirty_rows: list[tuple],
    dirty_fields: list[tuple],
    tricky: list[tuple],
    effects: pd.DataFrame,
    uplift: pd.DataFrame,
    event_effects: pd.DataFrame | None = None,
) -> None:
    """Write every truth file (sorted, deterministic)."""
    root = out_dir / TRUTH_DIR
    root.mkdir(parents=True, exist_ok=True)
    cid = fmt_ids(ID_PREFIX["customers"], customers["customer_id"].to_numpy())

    def save(name: str, df: pd.DataFrame) -> None:
        df.to_csv(root / name, index=False, lineterminator="\n")

    save(
        "dirty_rows.csv",
        pd.DataFrame(dirty_rows, columns=DIRTY_ROWS_COLUMNS).sort_values(["file", "line"], kind="stable"),
    )
    save(
        "dirty_fields.csv",
        pd.DataFrame(dirty_fields, columns=DIRTY_FIELDS_COLUMNS).sort_values(["file", "line"], kind="stable"),
    )
    save(
        "tricky_clean.csv",
        pd.DataFrame(tricky, columns=TRICKY_COLUMNS).sort_values(["file", "line", "column"], kind="stable"),
    )
    save(
        "segments.csv",
        pd.DataFrame(
            {"customer_id": cid, "true_segment": np.array(SEGMENTS)[customers["_segment"].to_numpy()]}
        ),
    )
    person = np.strings.add("PER", np.strings.zfill(customers["_person"].to_numpy().astype(str), 7))
    save("duplicates.csv", pd.DataFrame({"customer_id": cid, "person_id": person}))
    def effect_file(name: str, frame: pd.DataFrame) -> None:
        eff = frame.sort_values(["campaign_id", "outcome"], kind="stable").copy()
        eff["campaign_id"] = fmt_ids(ID_PREFIX["campaigns"], eff["campaign_id"].to_numpy())
        eff["true_effect"] = eff["true_effect"].map(lambda x: f"{x:.6f}")
        save(name, eff[["campaign_id", "outcome", "estimand", "true_effect", "design"]])

    effect_file("campaign_effects.csv", effects)  # conversion, revenue
    if event_effects is not None:  # behaviour-event outcomes (visits): the planted visit lift
        effect_file("campaign_event_effects.csv", event_effects)
    up = pd.DataFrame(
        {
            "campaign_id": fmt_ids(ID_PREFIX["campaigns"], uplift["campaign_id"].to_numpy()),
            "customer_id": cid[uplift["_cust"].to_numpy()],
            "true_effect": np.char.mod("%.6f", uplift["true_effect"].to_numpy()),
        }
    )
    save("uplift.csv", up.sort_values(["campaign_id", "customer_id"], kind="stable"))
    save("expected_totals.csv", expected_totals(versions))
