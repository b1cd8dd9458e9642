"""Build the whole in-memory world of one run: every entity over the full timeline, before delivery."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .activity import build_events, finalise_events, purchase_events
from .catalog import build_products, build_reps, build_sales_targets, build_service_plans, product_snapshots
from .common import DAY, Calendar, rng_stream
from .contacts import build_communications, build_relationships
from .marketing import build_campaigns, build_spend
from .people import build_customers
from .pools import build_pools
from .sales import add_items, build_opportunities, finalise_orders, organic_orders
from .segments import assign_behaviour
from .service import build_tickets, ticket_versions

CUSTOMERS_PER_SCALE = 100_000


@dataclass
class World:
    customers: pd.DataFrame
    households: np.ndarray
    products: list[pd.DataFrame]  # one snapshot per extract day
    sales_reps: pd.DataFrame
    service_plans: pd.DataFrame
    sales_targets: pd.DataFrame
    campaigns: pd.DataFrame
    spend: pd.DataFrame
    members: pd.DataFrame
    effects: pd.DataFrame
    event_effects: pd.DataFrame
    uplift: pd.DataFrame
    orders: pd.DataFrame
    items: pd.DataFrame
    events: pd.DataFrame
    communications: pd.DataFrame
    tickets: pd.DataFrame
    ticket_versions: pd.DataFrame
    opportunities: pd.DataFrame
    relationships: pd.DataFrame


def sizes(scale: float) -> dict[str, int]:
    """Entity sizes that do not follow from behaviour rates."""
    return {
        "customers": max(200, int(round(CUSTOMERS_PER_SCALE * scale))),
        "products": max(40, int(round(1500 * scale))),
        "sales_reps": max(8, int(round(120 * scale))),
        "min_members": 1100 if scale >= 0.1 else 350,
    }


def _status(cust: pd.DataFrame, orders: pd.DataFrame, cal: Calendar) -> np.ndarray:
    last = pd.Series(orders["order_date"].to_numpy()).groupby(orders["_cust"].to_numpy()).max()
    last_at = np.full(len(cust), np.datetime64("NaT", "s"))
    last_at[last.index.to_numpy()] = last.to_numpy()
    active = ~np.isnat(last_at) & (last_at >= cal.day_start(1) - 180 * DAY)
    return np.where(np.isnat(last_at), "prospect", np.where(active, "active", "inactive")).astype(object)


def build_world(scale: float, seed: int, cal: Calendar, step=lambda name: None) -> World:
    """Generate every entity of the timeline; `step(name)` is called after each stage (progress)."""
    size = sizes(scale)
    pools = build_pools(seed)
    cust, households = build_customers(size["customers"], cal, seed, pools)
    step("customers")
    products = build_products(size["products"], cal, seed)
    reps = build_reps(size["sales_reps"], cal, seed, pools)
    rng = rng_stream(seed, "behaviour")
    cust["_rep"] = rng.integers(1, size["sales_reps"] + 1, len(cust))
    assign_behaviour(cust, cal, rng)
    organic, items = add_items(rng, cust, organic_orders(rng, cust, cal), products, 0)
    events = build_events(rng_stream(seed, "events"), cust, cal, products)
    step("orders and events")
    camp = build_campaigns(seed, scale, cal, cust, organic, items, events, products, size["min_members"])
    step("campaigns")
    orders, items = finalise_orders(camp.orders, camp.items, cal, rng_stream(seed, "orders"))
    orders["customer_id"] = cust["customer_id"].to_numpy()[orders["_cust"].to_numpy()]
    erng = rng_stream(seed, "purchases")
    events = finalise_events(
        pd.concat([events, camp.events, purchase_events(erng, orders, items, cal)], ignore_index=True),
        cust,
        cal,
        erng,
    )
    cust["status"] = _status(cust, orders, cal)
    crng = rng_stream(seed, "contacts")
    comms = build_communications(crng, cust, cal, camp.members, camp.campaigns, size["sales_reps"])
    tickets = build_tickets(rng_stream(seed, "tickets"), cust, cal)
    step("communications and tickets")
    return World(
        customers=cust,
        households=households,
        products=product_snapshots(products, cal, seed),
        sales_reps=reps,
        service_plans=build_service_plans(cal),
        sales_targets=build_sales_targets(reps, cal, seed, orders, items),
        campaigns=camp.campaigns,
        spend=build_spend(rng_stream(seed, "spend"), camp.campaigns, cal),
        members=camp.members,
        effects=camp.effects,
        event_effects=camp.event_effects,
        uplift=camp.uplift,
        orders=orders,
        items=items,
        events=events,
        communications=comms,
        tickets=tickets,
        ticket_versions=ticket_versions(tickets, cal, rng_stream(seed, "ticket-versions")),
        opportunities=build_opportunities(rng_stream(seed, "opportunities"), cust, cal),
        relationships=build_relationships(crng, cust, households, cal),
    )
