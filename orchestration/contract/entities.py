"""Every entity of the extract contract, the CRM module each belongs to, and the load order.

Each module file (customer.py, sales.py, marketing.py, service.py) defines its entities; this module gathers
them, states the load order (every parent before its children, checked below) and the delivery rules.
"""

from __future__ import annotations

from . import customer, marketing, sales, service
from .schema import Entity

#: The CRM modules and the entities each delivers. A site may deliver only some modules (or some entities of
#: a module): its site configuration (`crm.yml`, orchestration/site.py) says which; the marts of an absent
#: module exist empty and `ops.module_status` says why.
MODULES: dict[str, tuple[str, ...]] = {
    name: tuple(e.name for e in module.ENTITIES)
    for name, module in (("customer", customer), ("sales", sales), ("marketing", marketing), ("service", service))
}
MODULE_OF: dict[str, str] = {e: m for m, ents in MODULES.items() for e in ents}
#: Every site delivers customers: every other entity hangs off them.
ALWAYS_DELIVERED = ("customers",)
#: Delivered only where a site names them in crm.yml `entities` (a module does not imply them, and they do
#: not count for a module's present/partial status): exchange rates matter only for multi-currency data.
OPTIONAL_ENTITIES = ("fx_rates",)

#: The order the raw loader loads (and the generators list) the entities: every parent before its children.
LOAD_ORDER: tuple[str, ...] = (
    "customers",
    "products",
    "sales_reps",
    "service_plans",
    "fx_rates",
    "campaigns",
    "sales_targets",
    "customer_relationships",
    "communications",
    "behavior_events",
    "orders",
    "order_items",
    "opportunities",
    "campaign_spend",
    "campaign_members",
    "service_tickets",
)

_DEFINED = {e.name: e for m in (customer, sales, marketing, service) for e in m.ENTITIES}
assert sorted(_DEFINED) == sorted(LOAD_ORDER), "LOAD_ORDER names every entity of the module files once"
ENTITIES: tuple[Entity, ...] = tuple(_DEFINED[name] for name in LOAD_ORDER)
ENTITY_BY_NAME: dict[str, Entity] = {e.name: e for e in ENTITIES}


def entity(name: str) -> Entity:
    """Look an entity up by name; a name outside the contract is a user error."""
    try:
        return ENTITY_BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown entity {name!r}; the contract has: {', '.join(LOAD_ORDER)}") from None


def _check_load_order() -> None:
    seen: set[str] = set()
    for e in ENTITIES:
        for c in e.foreign_keys:
            assert c.references in seen or c.references == e.name, (e.name, c.name)
        seen.add(e.name)


_check_load_order()
assert sorted(MODULE_OF) == sorted(ENTITY_BY_NAME), "every entity belongs to exactly one module"
