"""The pandas way: three of the warehouse's outputs computed straight from the extract files with pandas.

A fair, vectorised script a careful analyst would write, with the warehouse's definitions (the contract's
row rules, the staging clean-up, latest version per key, deletes), so `crm-warehouse bench` can compare
its cost with ours and check its results equal ours (bench/compare.py):

- `customer_behavior.parquet`: per SOURCE customer_id, purchase/visit/like/cart counts in the 30, 90 and
  365 days ending on as_of and all time, all events, last event times (marts.customer_behavior is per
  master id: the comparison rolls these up through the published identity map; identity resolution
  itself is not redone here, which makes the pandas side cheaper, never dearer).
- `order_nets.parquet`: per order_id, status, lines, units, gross / discount / net amount in cents
  (marts.fct_orders; single-currency site: a foreign currency stops the script).
- `monthly_sales.parquet`: per order month and rep_id, net amount and completed net revenue in cents
  (reports.rpt_sales summed over region and product category).

Rows a loader rule rejects (contract.REASON_PRECEDENCE: column count, parse errors, missing key,
conflicting duplicate key in a file, unknown code, negative, out of range, future event time, orphan
foreign key against every parent key loaded up to as_of) are left out, as the raw loader quarantines them.

    python -m bench.pandas_way LANDING --out DIR [--as-of YYYY-MM-DD]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from orchestration import contract as c

SITE_CURRENCY = "CNY"  # the generated site's currency (crm.yml)
EVENT_TYPES = ("purchase", "visit", "like", "cart")
WINDOWS = (30, 90, 365)


def extract_days(landing: Path, as_of: date | None) -> list[tuple[date, dict]]:
    """(extract date, manifest) of every complete extract folder up to as_of, oldest first."""
    days = []
    for folder in sorted(landing.iterdir()):
        manifest = folder / c.MANIFEST_NAME
        if folder.is_dir() and manifest.exists():
            d = date.fromisoformat(folder.name)
            if as_of is None or d <= as_of:
                days.append((d, json.loads(manifest.read_text(encoding="utf-8"))))
    return days


def _parse(ent: c.Entity, raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Typed columns and a mask of rows that parse (DuckDB's typed read_csv would reject the others)."""
    ok = pd.Series(True, index=raw.index)
    out = {}
    for col in ent.columns:
        s = raw[col.name] if col.name in raw else pd.Series(pd.NA, index=raw.index, dtype="str")
        present = s.notna()
        if col.type in (c.TS, c.DATE):
            v = pd.to_datetime(s, format="ISO8601", errors="coerce")
        elif col.type == c.BOOL:
            v = s.str.strip().str.lower().map({"true": True, "t": True, "1": True, "false": False,
                                               "f": False, "0": False})
        elif col.type in (c.INT, c.MONEY, c.RATE, c.FX_RATE):
            v = pd.to_numeric(s.str.strip(), errors="coerce")
        else:
            out[col.name] = s
            continue
        ok &= ~(present & v.isna())
        out[col.name] = v
    return pd.DataFrame(out, index=raw.index), ok


def _read_file(ent: c.Entity, path: Path, encoding: str) -> pd.DataFrame:
    """Every record of one file as text, '' as NULL (as DuckDB reads it); records with more or fewer
    fields than the header are left out (wrong_column_count). pyarrow's CSV reader: pandas' own C reader
    silently pads a short record with ''."""
    enc = "utf-8" if encoding.lower().startswith("utf-8") else encoding  # a BOM is skipped
    table = pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(encoding=enc),
        parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=lambda row: "skip"),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in ent.column_names}, strings_can_be_null=True, null_values=[""],
        ),
    )
    return table.to_pandas()


def load_entity(ent: c.Entity, days: list[tuple[date, dict]], parents: dict[str, set]) -> pd.DataFrame:
    """Accepted rows of every day's file of `ent` with _extract_date and _source_line (rules applied)."""
    frames = []
    for d, manifest in days:
        entry = next((f for f in manifest["files"] if f["entity"] == ent.name), None)
        if entry is None:
            continue
        raw = _read_file(ent, Path(manifest["_folder"]) / entry["file"], entry.get("encoding", "utf-8"))
        df, ok = _parse(ent, raw)
        df = df[ok]
        key = list(ent.key)
        bad = pd.Series(False, index=df.index)
        for k in key:
            bad |= df[k].isna() | (df[k].str.strip() == "") if ent.column(k).type == c.TEXT else df[k].isna()
        content = pd.util.hash_pandas_object(df[ent.column_names], index=False)
        distinct = content.groupby([df[k] for k in key], dropna=False).transform("nunique")
        bad |= distinct > 1
        for col in ent.columns:
            s = df[col.name]
            if col.codes:
                allowed = {v.lower() for v in col.codes}
                bad |= s.notna() & ~s.str.strip().str.lower().isin(allowed)
            if col.non_negative:
                bad |= s < 0
            if col.low is not None:
                bad |= (s < col.low) | (s > col.high)
            if col.event_time:
                bad |= s >= pd.Timestamp(d + timedelta(days=1))
        df = df[~bad]
        frames.append(df.assign(_extract_date=pd.Timestamp(d), _source_line=np.arange(len(df))))
    out = pd.concat(frames, ignore_index=True)
    for col in ent.foreign_keys:  # orphans: retried every run, so kept once the parent has arrived
        if col.references in parents:
            out = out[out[col.name].isna() | out[col.name].isin(parents[col.references])]
    return out


def latest(df: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    """Latest version per key (updated_at desc nulls last, newest extract, last line); deletes dropped."""
    df = df.sort_values(["updated_at", "_extract_date", "_source_line"], na_position="first", kind="stable")
    df = df.drop_duplicates(key, keep="last")
    return df[~df["is_deleted"].fillna(False).astype(bool)]


def _clean(s: pd.Series) -> pd.Series:
    s = s.str.strip()
    return s.mask(s == "")


def customer_behavior(events: pd.DataFrame, as_of: date) -> pd.DataFrame:
    ev = events.assign(customer_id=_clean(events["customer_id"]), event_id=_clean(events["event_id"]),
                       event_type=_clean(events["event_type"]).str.lower())
    ev = latest(ev, ["event_id"])
    day = ev["occurred_at"].dt.normalize()
    end = pd.Timestamp(as_of)
    cols = {}
    for t in EVENT_TYPES:
        is_t = ev["event_type"] == t
        for w in WINDOWS:
            cols[f"{t}_count_{w}d"] = is_t & (day > end - pd.Timedelta(days=w)) & (day <= end)
        cols[f"{t}_count_all_time"] = is_t
        cols[f"last_{t}_at"] = ev["occurred_at"].where(is_t)
    frame = pd.DataFrame(cols).assign(customer_id=ev["customer_id"], event_count_all_time=1,
                                      last_event_at=ev["occurred_at"])
    g = frame.groupby("customer_id")
    counts = [k for k in frame.columns if "_count_" in k]
    lasts = [k for k in frame.columns if k.startswith("last_")]
    return pd.concat([g[counts].sum().astype("int64"), g[lasts].max()], axis=1).reset_index()


def order_nets(orders: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    o = orders.assign(order_id=_clean(orders["order_id"]), rep_id=_clean(orders["rep_id"]),
                      status=_clean(orders["status"]).str.lower(), currency=_clean(orders["currency"]).str.upper())
    o = latest(o, ["order_id"])
    foreign = o["currency"].notna() & (o["currency"] != SITE_CURRENCY)
    if foreign.any():
        sys.exit(f"pandas_way: {int(foreign.sum())} orders in another currency than {SITE_CURRENCY}: "
                 "this script covers single-currency sites only")
    it = latest(items.assign(order_id=_clean(items["order_id"])), ["order_id", "line_no"])
    cents = np.round(it["unit_price"] * 100).astype("Int64")
    bp = np.round(it["discount"] * 10_000).astype("Int64")
    gross = it["quantity"].astype("Int64") * cents
    num = gross * (10_000 - bp)  # round(q * price * (1 - d), 2): half away from zero, exact integers
    net = (num.abs() + 5_000) // 10_000 * np.sign(num)
    lines = pd.DataFrame({"order_id": it["order_id"], "units": it["quantity"].astype("Int64"),
                          "gross_cents": gross, "discount_cents": gross - net, "net_cents": net})
    totals = lines.groupby("order_id").agg(n_lines=("units", "size"), units=("units", "sum"),
                                           gross_cents=("gross_cents", "sum"),
                                           discount_cents=("discount_cents", "sum"), net_cents=("net_cents", "sum"))
    out = o[["order_id", "rep_id", "status", "order_date"]].merge(totals, on="order_id", how="left")
    for k in ("n_lines", "units", "gross_cents", "discount_cents", "net_cents"):
        out[k] = out[k].fillna(0).astype("int64")
    out["order_month"] = out["order_date"].dt.to_period("M").dt.to_timestamp()
    return out


def monthly_sales(nets: pd.DataFrame) -> pd.DataFrame:
    revenue = nets["net_cents"].where(nets["status"] == "completed", 0)
    g = nets.assign(revenue_cents=revenue).groupby(["order_month", "rep_id"], dropna=False)
    return g.agg(net_cents=("net_cents", "sum"), net_revenue_cents=("revenue_cents", "sum")).reset_index()


def run(landing: Path, out: Path, as_of: date | None = None) -> dict:
    days = extract_days(landing, as_of)
    if not days:
        sys.exit(f"pandas_way: no complete extract folder in {landing}")
    for d, manifest in days:
        manifest["_folder"] = str(landing / d.isoformat())
    as_of = as_of or days[-1][0]
    parents: dict[str, set] = {}
    loaded = {}
    for name in ("customers", "products", "sales_reps", "orders", "behavior_events", "order_items"):
        ent = c.entity(name)
        loaded[name] = load_entity(ent, days, parents)
        parents[name] = set(loaded[name][ent.key[0]].dropna())
    out.mkdir(parents=True, exist_ok=True)
    behavior = customer_behavior(loaded["behavior_events"], as_of)
    nets = order_nets(loaded["orders"], loaded["order_items"])
    sales = monthly_sales(nets)
    behavior.to_parquet(out / "customer_behavior.parquet", index=False)
    nets.drop(columns=["order_date"]).to_parquet(out / "order_nets.parquet", index=False)
    sales.to_parquet(out / "monthly_sales.parquet", index=False)
    return {"as_of": as_of.isoformat(), "rows": {"customer_behavior": len(behavior), "order_nets": len(nets),
                                                 "monthly_sales": len(sales)}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("landing", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--as-of", type=date.fromisoformat, default=None)
    args = ap.parse_args()
    t0 = time.perf_counter()
    result = run(args.landing, args.out, args.as_of)
    print(json.dumps({**result, "seconds": round(time.perf_counter() - t0, 3)}))


if __name__ == "__main__":
    main()
