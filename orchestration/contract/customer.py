"""The customer module: customers, the relationships between them, communications and behaviour events.

ENTITIES lists them in this module's order (MODULES); the contract's load order is in entities.py."""

from __future__ import annotations

from .reasons import IMPOSSIBLE_BIRTH_DATE, INVALID_EMAIL, INVALID_PHONE
from .schema import (
    CHANNELS_COMM,
    DATE,
    DELTA,
    ID,
    TEXT,
    TS,
    Column,
    Entity,
    _delta_tail,
)

ENTITIES: tuple[Entity, ...] = (
    Entity(
        "customers",
        DELTA,
        ("customer_id",),
        (
            Column("customer_id", ID, doc="source system customer id"),
            Column("name", TEXT, pii=True, doc="person or company name (Chinese or Latin)"),
            Column("gender", TEXT, codes=("male", "female", "unknown"), required=False),
            Column("birth_date", DATE, pii=True, field_check=IMPOSSIBLE_BIRTH_DATE, required=False),
            Column("occupation", TEXT, required=False),
            Column("phone", TEXT, pii=True, field_check=INVALID_PHONE),
            Column("email", TEXT, pii=True, field_check=INVALID_EMAIL),
            Column("address", TEXT, pii=True, required=False),
            Column("city", TEXT),
            Column("region", TEXT),
            Column("country", TEXT),
            Column("customer_type", TEXT, codes=("individual", "company")),
            Column("source", TEXT, codes=("web", "referral", "event", "ads", "partner", "store", "social")),
            Column("status", TEXT, codes=("prospect", "active", "inactive")),
            Column("created_at", TS, event_time=True),
            *_delta_tail(),
        ),
        doc="one row per customer version",
    ),
    Entity(
        "customer_relationships",
        DELTA,
        ("from_customer_id", "to_customer_id", "relationship_type"),
        (
            Column("from_customer_id", ID, references="customers"),
            Column("to_customer_id", ID, references="customers"),
            Column(
                "relationship_type",
                TEXT,
                codes=("referral", "family", "colleague", "parent_company", "partner"),
            ),
            Column("since", DATE),
            *_delta_tail(),
        ),
    ),
    Entity(
        "communications",
        DELTA,
        ("communication_id",),
        (
            Column("communication_id", ID),
            Column("customer_id", ID, references="customers"),
            Column("channel", TEXT, codes=CHANNELS_COMM),
            Column("direction", TEXT, codes=("inbound", "outbound")),
            Column("occurred_at", TS, event_time=True),
            Column("subject", TEXT),
            Column("content", TEXT, free_text=True),
            Column(
                "outcome",
                TEXT,
                codes=("completed", "no_answer", "follow_up", "interested", "not_interested", "resolved"),
            ),
            Column("rep_id", ID, references="sales_reps"),
            Column("campaign_id", ID, references="campaigns"),
            *_delta_tail(),
        ),
    ),
    Entity(
        "behavior_events",
        DELTA,
        ("event_id",),
        (
            Column("event_id", ID),
            Column("customer_id", ID, references="customers"),
            Column("event_type", TEXT, codes=("visit", "like", "cart", "purchase", "search", "share")),
            Column("occurred_at", TS, event_time=True),
            Column("product_id", ID, references="products"),
            Column("channel", TEXT, codes=("web", "app", "store", "mini_program")),
            *_delta_tail(),
        ),
    ),
)
