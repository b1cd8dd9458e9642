"""Communications (rep interactions and campaign sends) and customer relationships."""

from __future__ import annotations

import numpy as np
import pandas as pd

from orchestration import contract as c

from .common import DAY, Calendar, choice, seconds
from .text import COMM_FOLLOWUPS, COMM_OPENERS, SUBJECTS, free_text
from .timeline import OFFICE_HOURS, poisson_events

OUTCOMES = ("completed", "no_answer", "follow_up", "interested", "not_interested", "resolved")
CAMPAIGN_CHANNEL = {"email": "email", "sms": "sms", "social": "social", "phone": "phone"}


def _day_end(cal: Calendar, t: np.ndarray) -> np.ndarray:
    return cal.day_start(1) + cal.day_of(t) * DAY - np.timedelta64(1, "s")


def build_communications(
    rng: np.random.Generator,
    cust: pd.DataFrame,
    cal: Calendar,
    members: pd.DataFrame,
    campaigns: pd.DataFrame,
    n_reps: int,
) -> pd.DataFrame:
    """Rep interactions over the timeline plus one outbound message for ~60 % of sent campaign members."""
    company = (cust["customer_type"] == "company").to_numpy()
    rate = np.where(company, 14.0, 4.5) / 540.0 * cust["_engage"].to_numpy()
    owner, when = poisson_events(
        rng,
        rate,
        cust["_from"].to_numpy(),
        np.full(len(cust), cal.end),
        np.ones(len(cust), dtype=np.int64),
        OFFICE_HOURS,
    )
    n = len(owner)
    rep = np.where(rng.random(n) < 0.9, cust["_rep"].to_numpy()[owner], rng.integers(1, n_reps + 1, n))
    reps = pd.DataFrame(
        {
            "_cust": owner,
            "channel": choice(rng, c.CHANNELS_COMM, n, (0.35, 0.25, 0.08, 0.1, 0.15, 0.07)),
            "direction": choice(rng, ("inbound", "outbound"), n, (0.35, 0.65)),
            "occurred_at": when,
            "subject": choice(rng, SUBJECTS, n),
            "outcome": choice(rng, OUTCOMES, n, (0.3, 0.15, 0.2, 0.15, 0.1, 0.1)),
            "rep_id": rep,
            "campaign_id": -1,
        }
    )
    channel = (
        campaigns.set_index("campaign_id")["channel"].reindex(members["campaign_id"].to_numpy()).to_numpy()
    )
    sent = members[~np.isnat(members["sent_at"].to_numpy()) & np.isin(channel, list(CAMPAIGN_CHANNEL))]
    sent = sent[rng.random(len(sent)) < 0.6]
    names = campaigns.set_index("campaign_id")["name"]
    sends = pd.DataFrame(
        {
            "_cust": sent["_cust"].to_numpy(),
            "channel": pd.Series(channel[sent.index.to_numpy()]).map(CAMPAIGN_CHANNEL).to_numpy(),
            "direction": "outbound",
            "occurred_at": sent["sent_at"].to_numpy(),
            "subject": names.reindex(sent["campaign_id"].to_numpy()).to_numpy(),
            "outcome": "completed",
            "rep_id": -1,
            "campaign_id": sent["campaign_id"].to_numpy(),
        }
    )
    comms = pd.concat([reps, sends], ignore_index=True)
    owner = comms["_cust"].to_numpy()
    comms["content"], comms["_pii"] = free_text(
        rng,
        len(comms),
        COMM_OPENERS,
        COMM_FOLLOWUPS,
        cust["phone_key"].to_numpy()[owner],
        cust["email"].to_numpy()[owner],
    )
    comms = comms.sort_values("occurred_at", kind="stable").reset_index(drop=True)
    comms["communication_id"] = np.arange(1, len(comms) + 1, dtype=np.int64)
    comms["customer_id"] = cust["customer_id"].to_numpy()[comms["_cust"].to_numpy()]
    t = comms["occurred_at"].to_numpy()
    comms["updated_at"] = np.minimum(t + seconds(rng.uniform(1, 900, len(comms))), _day_end(cal, t))
    comms["is_deleted"] = False
    return comms


def build_relationships(
    rng: np.random.Generator, cust: pd.DataFrame, households: np.ndarray, cal: Calendar
) -> pd.DataFrame:
    """Family (households), referral, colleague, parent-company and partner links; unique triples."""
    n = len(cust)
    company = np.flatnonzero((cust["customer_type"] == "company").to_numpy())
    person = np.flatnonzero((cust["customer_type"] == "individual").to_numpy())
    referred = np.flatnonzero((cust["source"] == "referral").to_numpy() & (rng.random(n) < 0.3))
    referred = referred[referred > 0]
    parts = [
        (households[:, 0], households[:, 1], "family"),
        (rng.integers(0, referred, len(referred)) if len(referred) else referred, referred, "referral"),
    ]
    for pool, share, kind in (
        (person, 0.02, "colleague"),
        (company, 0.05, "parent_company"),
        (company, 0.03, "partner"),
    ):
        k = int(share * len(pool))
        if k and len(pool) > 1:
            parts.append((rng.choice(pool, k), rng.choice(pool, k), kind))
    rel = pd.concat(
        [pd.DataFrame({"a": a, "b": b, "relationship_type": t}) for a, b, t in parts], ignore_index=True
    )
    rel = rel[rel["a"] != rel["b"]].drop_duplicates(["a", "b", "relationship_type"]).reset_index(drop=True)
    created = cust["created_at"].to_numpy()
    both = np.maximum(created[rel["a"].to_numpy()], created[rel["b"].to_numpy()])
    both = np.maximum(both, cal.t0)
    rel["from_customer_id"] = cust["customer_id"].to_numpy()[rel["a"].to_numpy()]
    rel["to_customer_id"] = cust["customer_id"].to_numpy()[rel["b"].to_numpy()]
    rel["since"] = both.astype("datetime64[D]").astype("datetime64[s]")
    rel["updated_at"] = np.minimum(both + seconds(rng.uniform(600, 2 * 86400, len(rel))), _day_end(cal, both))
    rel["is_deleted"] = False
    rel = rel[rel["updated_at"].to_numpy() < cal.end]
    return rel.sort_values(
        ["from_customer_id", "to_customer_id", "relationship_type"], kind="stable"
    ).reset_index(drop=True)
