"""Build one customer block's world (every entity of its customers over the full timeline, before
delivery) and the reference data every block shares (`Shared`, built once per run)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .activity import build_events, finalise_events, purchase_events
from .blocks import Block, Offsets
from .campaign_plan import CampaignPlan, build_spend
from .catalog import (
    build_products,
    build_reps,
    build_service_plans,
    product_snapshots,
    rep_month_totals,
)
from .common import DAY, Calendar, rng_stream
from .contacts import build_communications, build_relationships
from .marketing import build_campaigns
from .people import build_customers
from .pools import Pools, build_pools
from .sales import add_items, build_opportunities, finalise_orders, organic_orders
from .segments import assign_behaviour
from .service import build_tickets, ticket_versions

CUSTOMERS_PER_SCALE = 100_000


@dataclass
class Shared:
    """Built once per run and used by every block: reference data and the campaign plan."""

    pools: Pools
    products: pd.DataFrame  # the catalogue of day 1 with `_weight` (orders and events draw from it)
    product_days: list[pd.DataFrame]  # the products snapshot of each extract day
    sales_reps: pd.DataFrame
    service_plans: pd.DataFrame
    plan: CampaignPlan | None = None  # set by the first block
    campaigns: pd.DataFrame | None = None  # set by the first block
    no_spend: pd.DataFrame | None = None  # an empty campaign_spend frame (blocks after the first)
    rep_months: list[pd.DataFrame] = field(default_factory=list)  # each block's rep_month_totals
    sales_targets: pd.DataFrame | None = None  # set once every block's orders are known


@dataclass
class World:
    """One block's entities (ids 1..n until `blocks.shift_ids` numbers them on)."""

    customers: pd.DataFrame
    households: np.ndarray
    spend: pd.DataFrame  # the run's campaign spend in the first block, empty in the others
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


def build_shared(scale: float, seed: int, cal: Calendar) -> Shared:
    """Pools, products, sales reps and service plans of the run (each from a stream of its own)."""
    size = sizes(scale)
    pools = build_pools(seed)
    products = build_products(size["products"], cal, seed)
    return Shared(
        pools=pools,
        products=products,
        product_days=product_snapshots(products, cal, seed),
        sales_reps=build_reps(size["sales_reps"], cal, seed, pools),
        service_plans=build_service_plans(cal),
    )


def _status(cust: pd.DataFrame, orders: pd.DataFrame, cal: Calendar) -> np.ndarray:
    last = pd.Series(orders["order_date"].to_numpy()).groupby(orders["_cust"].to_numpy()).max()
    last_at = np.full(len(cust), np.datetime64("NaT", "s"))
    last_at[last.index.to_numpy()] = last.to_numpy()
    active = ~np.isnat(last_at) & (last_at >= cal.day_start(1) - 180 * DAY)
    return np.where(np.isnat(last_at), "prospect", np.where(active, "active", "inactive")).astype(object)


def build_world(
    scale: float, block: Block, cal: Calendar, shared: Shared, off: Offsets, step=lambda name: None
) -> World:
    """Generate every entity of one block's customers; `step(name)` is called after each stage.

    The first block also sets the run's campaign plan, campaigns and spend in `shared`; every block adds
    its rep-month order totals (for the sales targets)."""
    size, seed, products = sizes(scale), block.seed, shared.products
    cust, households = build_customers(block.customers, cal, seed, shared.pools, block, off.person)
    step("customers")
    rng = rng_stream(seed, "behaviour")
    cust["_rep"] = rng.integers(1, size["sales_reps"] + 1, len(cust))
    assign_behaviour(cust, cal, rng)
    organic, items = add_items(rng, cust, organic_orders(rng, cust, cal), products, 0)
    events = build_events(rng_stream(seed, "events"), cust, cal, products)
    step("orders and events")
    # a block's share of the run's minimum members per campaign (the whole minimum when one block)
    min_members = size["min_members"] * block.customers // size["customers"] if block.count > 1 else None
    camp = build_campaigns(
        seed, scale, cal, cust, organic, items, events, products, min_members or size["min_members"],
        shared.plan,
    )
    if block.first:
        spend = build_spend(rng_stream(seed, "spend"), camp.campaigns, cal)
        shared.plan, shared.campaigns, shared.no_spend = camp.plan, camp.campaigns, spend.iloc[:0].copy()
    else:
        spend = shared.no_spend.copy()
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
    comms = build_communications(crng, cust, cal, camp.members, shared.campaigns, size["sales_reps"])
    tickets = build_tickets(rng_stream(seed, "tickets"), cust, cal)
    shared.rep_months.append(rep_month_totals(orders, items))
    step("communications and tickets")
    return World(
        customers=cust,
        households=households,
        spend=spend,
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
