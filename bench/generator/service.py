"""Service tickets and their life cycle across extracts.

A ticket is opened, answered, resolved and auto-closed at generated times. Each extract that sees a
change delivers a new version of the ticket: the state as of the end of that extract day (status,
first_response_at, resolved_at, score and feedback once resolved). Times in a version never lie after
the end of its extract day.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from orchestration import contract as c

from .common import DAY, NAT, Calendar, choice, seconds
from .segments import AFTER_CHURN, AT_RISK
from .text import FEEDBACK_FOLLOWUPS, FEEDBACK_OPENERS, free_text
from .timeline import poisson_events

RESPONSE_MINUTES = {"urgent": 10, "high": 45, "normal": 180, "low": 900}
RESOLUTION_HOURS = {"urgent": 3, "high": 16, "normal": 48, "low": 120}
N_AGENTS_PER_1K = 4


def agent_count(n_customers: int) -> int:
    """Support agents serving a block of n customers (agent ids 1..count before the block's offset)."""
    return max(3, N_AGENTS_PER_1K * n_customers // 1000)


def build_tickets(rng: np.random.Generator, cust: pd.DataFrame, cal: Calendar) -> pd.DataFrame:
    """One row per ticket with its whole life cycle (internal `_resp`, `_res`, `_close` times)."""
    lo, churn, end = cust["_from"].to_numpy(), cust["_churn"].to_numpy(), np.full(len(cust), cal.end)
    rate = cust["_tickets"].to_numpy()
    o1, t1 = poisson_events(rng, rate, lo, churn)
    o2, t2 = poisson_events(rng, rate * AFTER_CHURN * 4, np.maximum(churn, lo), end)
    owner, opened = np.concatenate([o1, o2]), np.concatenate([t1, t2])
    n = len(owner)
    priority = choice(rng, c.PRIORITIES, n, (0.05, 0.2, 0.55, 0.2))
    resp_med = np.array([RESPONSE_MINUTES[p] for p in c.PRIORITIES])[_index(priority, c.PRIORITIES)]
    res_med = np.array([RESOLUTION_HOURS[p] for p in c.PRIORITIES])[_index(priority, c.PRIORITIES)]
    resp = opened + seconds(60 * resp_med * rng.lognormal(0, 0.8, n))
    res = resp + seconds(3600 * res_med * rng.lognormal(0, 0.9, n))
    res = np.where(rng.random(n) < 0.04, NAT, res)
    close = np.where(
        ~np.isnat(res) & (rng.random(n) < 0.85), res + seconds(rng.uniform(2, 5, n) * 86400), NAT
    )
    seg = cust["_segment"].to_numpy()[owner]
    happy = np.where(seg == AT_RISK, 0.35, 0.65)
    score = np.where(rng.random(n) < happy, rng.integers(4, 6, n), rng.integers(1, 4, n))
    scored = rng.random(n) < 0.55
    text, _ = free_text(
        rng,
        n,
        FEEDBACK_OPENERS,
        FEEDBACK_FOLLOWUPS,
        cust["phone_key"].to_numpy()[owner],
        cust["email"].to_numpy()[owner],
    )
    tickets = pd.DataFrame(
        {
            "_cust": owner,
            "customer_id": cust["customer_id"].to_numpy()[owner],
            "channel": choice(
                rng, ("phone", "email", "chat", "web", "social"), n, (0.3, 0.25, 0.25, 0.15, 0.05)
            ),
            "category": choice(
                rng,
                ("billing", "delivery", "product_quality", "account", "technical", "returns", "inquiry"),
                n,
                (0.15, 0.25, 0.15, 0.1, 0.1, 0.1, 0.15),
            ),
            "priority": priority,
            "opened_at": opened,
            "_resp": resp,
            "_res": res,
            "_close": close,
            "_pending": rng.random(n) < 0.15,
            "agent_id": rng.integers(1, agent_count(len(cust)) + 1, n),
            "_score": np.where(scored, score, -1),
            "_feedback": np.where(scored & (rng.random(n) < 0.45), text, None),
            "reopened_count": np.where(rng.random(n) < 0.9, 0, rng.integers(1, 3, n)),
        }
    )
    tickets = tickets[tickets["opened_at"].to_numpy() < cal.end]
    tickets = tickets.sort_values("opened_at", kind="stable").reset_index(drop=True)
    tickets["ticket_id"] = np.arange(1, len(tickets) + 1, dtype=np.int64)
    return tickets


def _index(values: np.ndarray, domain: tuple) -> np.ndarray:
    return pd.Categorical(values, categories=list(domain)).codes.astype(np.int64)


def ticket_versions(tickets: pd.DataFrame, cal: Calendar, rng: np.random.Generator) -> pd.DataFrame:
    """Every delivered version: the ticket's state at the end of each extract day on which it changed."""
    stamps = [tickets[col].to_numpy() for col in ("opened_at", "_resp", "_res", "_close")]
    rows, days = [], []
    for t in stamps:
        ok = ~np.isnat(t) & (t < cal.end)
        rows.append(np.flatnonzero(ok))
        days.append(cal.day_of(t[ok]))
    pairs = pd.DataFrame({"row": np.concatenate(rows), "_day": np.concatenate(days)}).drop_duplicates()
    pairs = pairs.sort_values(["row", "_day"], kind="stable")
    v = tickets.iloc[pairs["row"].to_numpy()].reset_index(drop=True)
    v["_day"] = pairs["_day"].to_numpy()
    cutoff = cal.day_start(1) + v["_day"].to_numpy() * DAY
    seen = {
        col: (~np.isnat(v[col].to_numpy())) & (v[col].to_numpy() < cutoff)
        for col in ("_resp", "_res", "_close")
    }
    v["first_response_at"] = np.where(seen["_resp"], v["_resp"].to_numpy(), NAT)
    v["resolved_at"] = np.where(seen["_res"], v["_res"].to_numpy(), NAT)
    status = np.where(seen["_resp"], np.where(v["_pending"], "pending", "open"), "new")
    status = np.where(seen["_res"], "solved", status)
    v["status"] = np.where(seen["_close"], "closed", status)
    v["satisfaction_score"] = pd.array(
        np.where(seen["_res"] & (v["_score"] > 0), v["_score"], -1), dtype="Int64"
    )
    v.loc[v["satisfaction_score"] < 0, "satisfaction_score"] = pd.NA
    v["feedback_text"] = np.where(seen["_res"], v["_feedback"], None)
    v["reopened_count"] = np.where(seen["_res"], v["reopened_count"], 0)
    latest = v["opened_at"].to_numpy().copy()
    for col in ("_resp", "_res", "_close"):
        later = seen[col] & (v[col].to_numpy() > latest)
        latest[later] = v[col].to_numpy()[later]
    v["updated_at"] = np.minimum(
        latest + seconds(rng.uniform(1, 300, len(v))), cutoff - np.timedelta64(1, "s")
    )
    v["is_deleted"] = False
    return v
