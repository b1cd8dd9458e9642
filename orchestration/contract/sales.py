"""The sales module: products, sales reps and their targets, exchange rates, orders and their lines, opportunities.

ENTITIES lists them in this module's order (MODULES); the contract's load order is in entities.py."""

from __future__ import annotations

from .schema import (
    BOOL,
    DATE,
    DELTA,
    FX_RATE,
    ID,
    INT,
    ISO_4217,
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
        "products",
        SNAPSHOT,
        ("product_id",),
        (
            Column("product_id", ID),
            Column("name", TEXT),
            Column("category", TEXT),
            Column("list_price", MONEY, non_negative=True),
            Column("launched_at", DATE),
        ),
    ),
    Entity(
        "sales_reps",
        SNAPSHOT,
        ("rep_id",),
        (
            Column("rep_id", ID),
            Column("name", TEXT, pii=True),
            Column("region", TEXT),
            Column("team", TEXT),
            Column("hired_at", DATE),
        ),
    ),
    Entity(
        "sales_targets",
        SNAPSHOT,
        ("period", "rep_id"),
        (
            Column("period", TEXT, doc="YYYY-MM"),
            Column("rep_id", ID, references="sales_reps"),
            Column("region", TEXT),
            Column("target_amount", MONEY, non_negative=True),
            Column("target_units", INT, non_negative=True),
            Column("budget", MONEY, non_negative=True),
        ),
        doc="sales plan per rep and month",
    ),
    Entity(
        "fx_rates",
        SNAPSHOT,
        ("currency", "valid_from"),
        (
            Column("currency", TEXT, codes=ISO_4217, doc="ISO 4217 code of the foreign currency"),
            Column("valid_from", DATE, doc="the rate applies to amounts dated from this day until the next"),
            Column("rate_to_site", FX_RATE, non_negative=True,
                   doc="site-currency units per one unit of `currency`"),
        ),
        doc="exchange rates into the site currency; only needed when rows carry another currency (optional)",
    ),
    Entity(
        "orders",
        DELTA,
        ("order_id",),
        (
            Column("order_id", ID),
            Column("customer_id", ID, references="customers"),
            Column("rep_id", ID, references="sales_reps"),
            Column("order_date", TS, event_time=True),
            Column("status", TEXT, codes=("completed", "cancelled", "refunded")),
            Column("channel", TEXT, codes=("web", "app", "store", "phone", "partner")),
            Column("currency", TEXT, codes=ISO_4217, doc="ISO 4217; another than the site currency (crm.yml) "
                   "is converted with fx_rates"),
            *_delta_tail(),
        ),
    ),
    Entity(
        "order_items",
        DELTA,
        ("order_id", "line_no"),
        (
            Column("order_id", ID, references="orders"),
            Column("line_no", INT),
            Column("product_id", ID, references="products"),
            Column("quantity", INT, non_negative=True),
            Column("unit_price", MONEY, non_negative=True),
            Column("discount", RATE, low=0, high=1, doc="fraction of the line amount"),
            *_delta_tail(),
        ),
        doc="net = round(quantity * unit_price * (1 - discount), 2)",
    ),
    Entity(
        "opportunities",
        DELTA,
        ("opportunity_id",),
        (
            Column("opportunity_id", ID),
            Column("customer_id", ID, references="customers"),
            Column("rep_id", ID, references="sales_reps"),
            Column("created_at", TS, event_time=True),
            Column(
                "stage",
                TEXT,
                codes=("prospecting", "qualification", "proposal", "negotiation", "closed_won", "closed_lost"),
            ),
            Column("amount", MONEY, non_negative=True),
            Column("close_date", DATE, doc="expected or actual close date (may be in the future)"),
            Column("is_closed", BOOL),
            Column("is_won", BOOL),
            *_delta_tail(),
        ),
    ),
)
