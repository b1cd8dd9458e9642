"""Ground truth under `<out>/_truth/`: what the warehouse must find, computed from what was MEANT.

Expected totals come from the in-memory row versions after delta semantics as of the last day (latest
version per key by (updated_at, extract day), deleted keys removed, late arrivals included once their
parent arrived, planted dirty rows never part of it), not from re-reading the CSV files. Each customer
block adds its share (totals, effect sums and counts) and appends its per-customer rows (segments,
duplicates, uplift, the planted churn hazard: sorted within the block, blocks in id order).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from orchestration import contract as c

from .common import ID_PREFIX, fmt_ids
from .segments import AT_RISK, SEGMENTS

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


def block_totals(versions: dict[str, pd.DataFrame]) -> dict:
    """One block's share of `expected_totals` (blocks never share a key, so shares add up)."""
    orders = current(versions["orders"], "orders")
    items = current(versions["order_items"], "order_items")
    done = orders[orders["status"] == "completed"][["order_id", "order_date"]]
    lines = items.merge(done, on="order_id", how="inner")
    month = lines["order_date"].to_numpy().astype("datetime64[M]").astype(str)
    customers = current(versions["customers"], "customers")
    return {
        "net": pd.Series(lines["_net"].to_numpy()).groupby(month).sum(),
        "units": pd.Series(lines["quantity"].to_numpy()).groupby(month).sum(),
        "orders": len(orders),
        "customers": len(customers),
        "customers_dedup": customers["_person"].nunique(),
        "tickets": len(current(versions["service_tickets"], "service_tickets")),
        "campaign_members": len(current(versions["campaign_members"], "campaign_members")),
    }


def expected_totals(shares: list[dict]) -> pd.DataFrame:
    """metric, period, value rows (see the module docstring for the delta semantics)."""

    def added(name: str) -> pd.Series:
        parts = [share[name] for share in shares]
        return parts[0] if len(parts) == 1 else pd.concat(parts).groupby(level=0).sum()

    net, units = added("net"), added("units")
    rows = [("net_revenue", m, _money(v)) for m, v in net.sort_index().items()]
    rows += [("units", m, str(int(v))) for m, v in units.sort_index().items()]
    rows += [
        (name, "all", str(sum(share[name] for share in shares)))
        for name in ("orders", "customers", "customers_dedup", "tickets", "campaign_members")
    ]
    return pd.DataFrame(rows, columns=["metric", "period", "value"])


def true_effects(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """campaign_id, outcome, estimand, true_effect, design from the blocks' sums and counts
    (`marketing.EFFECT_COLUMNS`): the mean over the estimand population of every block together."""
    eff = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
    keys = ["campaign_id", "outcome", "estimand", "design", "_unit"]
    if len(parts) > 1:
        eff = eff.groupby(keys, sort=False, as_index=False)[["_sum", "_n"]].sum()
    with np.errstate(invalid="ignore", divide="ignore"):  # a campaign without members: nan, as before
        value = [float(np.float64(a) / n / u) for a, n, u in zip(eff["_sum"], eff["_n"], eff["_unit"], strict=True)]
    return eff.assign(true_effect=value)


def churn_hazard_rows(customers: pd.DataFrame, cid: np.ndarray) -> pd.DataFrame:
    """One row per at_risk customer record: the drivers of its hazard, its planted relative risk, the window
    its churn time was drawn in (`segments.churn_times`) and the time it stopped."""
    at_risk = customers["_segment"].to_numpy() == AT_RISK
    stamp = {name: np.datetime_as_string(customers[col].to_numpy()[at_risk], unit="s")
             for name, col in (("window_start", "_churn_lo"), ("window_end", "_churn_hi"), ("churned_at", "_churn"))}
    number = {name: np.char.mod("%.8f", customers[col].to_numpy()[at_risk])
              for name, col in (("service_load", "_service_load"), ("tenure_years", "_tenure_years"),
                                ("relative_risk", "_churn_risk"))}
    return pd.DataFrame({"customer_id": cid[at_risk], **number, **stamp})


class TruthWriter:
    """Writes `_truth/`: per-customer files block by block, the rest once every block is done."""

    def __init__(self, out_dir: Path) -> None:
        self.root = out_dir / TRUTH_DIR
        self.root.mkdir(parents=True, exist_ok=True)
        self.blocks = 0
        self.totals: list[dict] = []
        self.effects: list[pd.DataFrame] = []
        self.event_effects: list[pd.DataFrame] = []

    def save(self, name: str, df: pd.DataFrame, append: bool = False) -> None:
        df.to_csv(self.root / name, index=False, lineterminator="\n", mode="a" if append else "w", header=not append)

    def add_block(self, customers: pd.DataFrame, versions: dict, world) -> None:
        """Append the block's segments, duplicates and uplift rows; keep its totals and effect sums."""
        more = self.blocks > 0
        cid = fmt_ids(ID_PREFIX["customers"], customers["customer_id"].to_numpy())
        segment = np.array(SEGMENTS)[customers["_segment"].to_numpy()]
        self.save("segments.csv", pd.DataFrame({"customer_id": cid, "true_segment": segment}), more)
        self.save("churn_hazard.csv", churn_hazard_rows(customers, cid), more)
        person = np.strings.add("PER", np.strings.zfill(customers["_person"].to_numpy().astype(str), 7))
        self.save("duplicates.csv", pd.DataFrame({"customer_id": cid, "person_id": person}), more)
        uplift = world.uplift
        up = pd.DataFrame(
            {
                "campaign_id": fmt_ids(ID_PREFIX["campaigns"], uplift["campaign_id"].to_numpy()),
                "customer_id": cid[uplift["_cust"].to_numpy()],
                "true_effect": np.char.mod("%.6f", uplift["true_effect"].to_numpy()),
            }
        )
        self.save("uplift.csv", up.sort_values(["campaign_id", "customer_id"], kind="stable"), more)
        self.totals.append(block_totals(versions))
        self.effects.append(world.effects)
        self.event_effects.append(world.event_effects)
        self.blocks += 1

    def finish(self, dirty_rows: list[tuple], dirty_fields: list[tuple], tricky: list[tuple]) -> None:
        """Write the run-wide truth files (sorted, deterministic)."""
        self.save(
            "dirty_rows.csv",
            pd.DataFrame(dirty_rows, columns=DIRTY_ROWS_COLUMNS).sort_values(["file", "line"], kind="stable"),
        )
        self.save(
            "dirty_fields.csv",
            pd.DataFrame(dirty_fields, columns=DIRTY_FIELDS_COLUMNS).sort_values(
                ["file", "line"], kind="stable"
            ),
        )
        self.save(
            "tricky_clean.csv",
            pd.DataFrame(tricky, columns=TRICKY_COLUMNS).sort_values(["file", "line", "column"], kind="stable"),
        )
        for name, parts in (
            ("campaign_effects.csv", self.effects),  # conversion, revenue
            ("campaign_event_effects.csv", self.event_effects),  # behaviour events (visits): the visit lift
        ):
            eff = true_effects(parts).sort_values(["campaign_id", "outcome"], kind="stable")
            eff["campaign_id"] = fmt_ids(ID_PREFIX["campaigns"], eff["campaign_id"].to_numpy())
            eff["true_effect"] = eff["true_effect"].map(lambda x: f"{x:.6f}")
            self.save(name, eff[["campaign_id", "outcome", "estimand", "true_effect", "design"]])
        self.save("expected_totals.csv", expected_totals(self.totals))
