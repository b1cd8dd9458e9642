"""The marketing module: campaign plans, their daily execution and the customers assigned to them.

ENTITIES lists them in this module's order (MODULES); the contract's load order is in entities.py."""

from __future__ import annotations

from .schema import (
    DATE,
    DELTA,
    ID,
    INT,
    MONEY,
    RATE,
    SNAPSHOT,
    TEXT,
    TS,
    Column,
    Entity,
    _delta_tail,
)

ENTITIES: tuple[Entity, ...] = (
    Entity(
        "campaigns",
        SNAPSHOT,
        ("campaign_id",),
        (
            Column("campaign_id", ID),
            Column("name", TEXT),
            Column("goal", TEXT),
            Column("strategy", TEXT),
            Column("measures", TEXT),
            Column("channel", TEXT, codes=("email", "sms", "social", "ads", "event", "phone")),
            Column("start_date", DATE),
            Column("end_date", DATE),
            Column("budget", MONEY, non_negative=True),
            Column("target_segment", TEXT),
            Column("kpi_metric", TEXT, doc="what the KPI measures, e.g. conversion_rate"),
            Column("kpi_target", RATE, doc="target value of kpi_metric"),
            Column("attribution_days", INT, non_negative=True, doc="attribution window length in days"),
        ),
        doc="marketing campaign plan",
    ),
    Entity(
        "campaign_spend",
        DELTA,
        ("campaign_id", "date"),
        (
            Column("campaign_id", ID, references="campaigns"),
            Column("date", DATE),
            Column("spend", MONEY, non_negative=True),
            Column("progress_pct", RATE, low=0, high=100),
            Column("status", TEXT, codes=("planned", "running", "paused", "completed")),
            Column("risk_note", TEXT),
            *_delta_tail(),
        ),
        doc="campaign execution per day",
    ),
    Entity(
        "campaign_members",
        DELTA,
        ("campaign_id", "customer_id"),
        (
            Column("campaign_id", ID, references="campaigns"),
            Column("customer_id", ID, references="customers"),
            Column("group", TEXT, codes=("treatment", "control")),
            Column("assigned_at", TS, event_time=True),
            Column("sent_at", TS, event_time=True),
            Column("opened_at", TS, event_time=True),
            Column("clicked_at", TS, event_time=True),
            Column("responded_at", TS, event_time=True),
            *_delta_tail(),
        ),
    ),
)
