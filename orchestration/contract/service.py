"""The service module: SLA plans per ticket priority and the service tickets.

ENTITIES lists them in this module's order (MODULES); the contract's load order is in entities.py."""

from __future__ import annotations

from .schema import (
    DATE,
    DELTA,
    ID,
    INT,
    PRIORITIES,
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
        "service_plans",
        SNAPSHOT,
        ("priority", "valid_from"),
        (
            Column("priority", TEXT, codes=PRIORITIES),
            Column("first_response_target_minutes", INT, non_negative=True),
            Column("resolution_target_hours", INT, non_negative=True),
            Column("csat_target", RATE, low=1, high=5),
            Column("valid_from", DATE),
        ),
        doc="SLA plan per ticket priority, effective from valid_from",
    ),
    Entity(
        "service_tickets",
        DELTA,
        ("ticket_id",),
        (
            Column("ticket_id", ID),
            Column("customer_id", ID, references="customers"),
            Column("channel", TEXT, codes=("phone", "email", "chat", "web", "social")),
            Column(
                "category",
                TEXT,
                codes=("billing", "delivery", "product_quality", "account", "technical", "returns", "inquiry"),
            ),
            Column("priority", TEXT, codes=PRIORITIES),
            Column("opened_at", TS, event_time=True),
            Column("first_response_at", TS, event_time=True),
            Column("resolved_at", TS, event_time=True),
            Column("status", TEXT, codes=("new", "open", "pending", "solved", "closed")),
            Column("agent_id", ID),
            Column("satisfaction_score", INT, low=1, high=5),
            Column("feedback_text", TEXT, free_text=True),
            Column("reopened_count", INT, non_negative=True),
            *_delta_tail(),
        ),
    ),
)
