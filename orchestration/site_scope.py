"""What a partial site leaves empty: dbt models, marts and tests fed only by entities the site does not deliver.

Read from the dbt manifest's lineage (built once at set-up), never from a hand list: a model is *empty by
configuration* when every raw entity upstream of it (dbt source `crm.<entity>`) is one the site does not
deliver (crm.yml, orchestration/site.py). Such a model still builds (empty, same columns), its dbt tests
and quality gates are skipped, and `ops.module_status` lists it.
"""

from __future__ import annotations

import json
from functools import cache

from orchestration.settings import dbt_manifest_path
from orchestration.site import Site

MANIFEST = dbt_manifest_path()  # CRM_DBT_PROJECT_DIR's manifest, else the repo's (settings.py)
CRM_SOURCE_PREFIX = "source.crm_warehouse.crm."


@cache
def _manifest() -> dict:
    return json.loads(MANIFEST.read_text(encoding="utf-8"))


@cache
def upstream_entities() -> dict[str, frozenset[str]]:
    """unique_id of every model/snapshot/seed/source -> the raw entities (dbt source `crm.*`) upstream of it."""
    m = _manifest()
    parents = {uid: node["depends_on"].get("nodes", [])  # a seed's depends_on has no "nodes"
               for uid, node in m["nodes"].items() if node["resource_type"] != "test"}
    out: dict[str, frozenset[str]] = {uid: frozenset({uid.removeprefix(CRM_SOURCE_PREFIX)})
                                      for uid in m["sources"] if uid.startswith(CRM_SOURCE_PREFIX)}

    def visit(uid: str) -> frozenset[str]:
        if uid not in out:
            out[uid] = frozenset()  # cycle guard (dbt forbids cycles; kept for safety)
            out[uid] = frozenset().union(*(visit(p) for p in parents.get(uid, ())))
        return out[uid]

    for uid in parents:
        visit(uid)
    return out


def _own_entities(uid: str) -> frozenset[str]:
    """The raw entities a node's rows come from: a mart's `meta.rows_from` (its yml; a mart also reads other
    entities for context, e.g. every source for the customer id map), else everything upstream."""
    node = _manifest()["nodes"].get(uid) or {}
    declared = (node.get("config", {}).get("meta") or {}).get("rows_from") or node.get("meta", {}).get("rows_from")
    return frozenset(declared) if declared else upstream_entities().get(uid, frozenset())


def _empty(uid: str, site: Site) -> bool:
    """Empty by configuration: the site delivers none of the entities the node's rows come from."""
    ents = _own_entities(uid)
    return bool(ents) and not any(site.delivers(e) for e in ents)


def empty_models(site: Site) -> list[str]:
    """Names of the models fed only by entities the site does not deliver (sorted)."""
    return sorted(
        node["name"] for uid, node in _manifest()["nodes"].items()
        if node["resource_type"] == "model" and _empty(uid, site)
    )


def skipped_tests(site: Site) -> list[str]:
    """Names of the dbt tests that read a model or source fed only by undelivered entities (sorted)."""
    m = _manifest()
    return sorted(
        node["name"] for node in m["nodes"].values()
        if node["resource_type"] == "test" and any(_empty(p, site) for p in node["depends_on"]["nodes"])
    )


def model_entities(model: str) -> frozenset[str]:
    """The raw entities upstream of one model, by model name."""
    return upstream_entities().get(f"model.crm_warehouse.{model}", frozenset())


def own_entities(model: str) -> frozenset[str]:
    """The raw entities that make `model`'s rows (see _own_entities), by model name."""
    return _own_entities(f"model.crm_warehouse.{model}")


def missing_entities(model: str, site: Site) -> list[str]:
    """The entities that make `model`'s rows and the site does not deliver (sorted; empty when the model
    should have rows)."""
    uid = f"model.crm_warehouse.{model}"
    return sorted(e for e in _own_entities(uid) if not site.delivers(e)) if _empty(uid, site) else []


def mart_module(model: str) -> str | None:
    """The module folder of a mart (models/marts/<module>/), else None."""
    node = _manifest()["nodes"].get(f"model.crm_warehouse.{model}")
    fqn = node["fqn"] if node else []
    return fqn[2] if len(fqn) > 3 and fqn[1] == "marts" else None


# ops.module_status as a DuckDB comment at publish (orchestration/serving/comments.py): (table, columns).
MODULE_STATUS_DESCRIPTION: tuple[str, dict[str, str]] = (
    "One row per CRM module (customer, sales, marketing, service, ...): whether this site delivers it "
    "(crm.yml), which entities it delivers and which marts are empty by configuration.",
    {
        "module": "CRM module name (orchestration/contract/ MODULES)",
        "status": "present (every entity delivered), partial (some) or absent (none: its marts are empty)",
        "entities_delivered": "extract entities of the module the site delivers (list)",
        "entities_not_delivered": "extract entities of the module the site does not deliver (list)",
        "empty_marts": "marts of the module that are empty because their entities are not delivered (list)",
        "site": "site name (crm.yml `site`)",
        "currency": "site currency, ISO 4217 code (crm.yml `currency`): the unit of every money column",
        "config_source": "where the site configuration came from (path of crm.yml, or the default)",
    },
)


def write_module_status(con, site: Site) -> int:
    """Create `ops.module_status` (grain: one row per CRM module) in the open work-file connection."""
    from orchestration import contract

    empty = empty_models(site)
    rows = []
    for module, entities in contract.MODULES.items():
        rows.append((
            module, site.module_status(module),
            [e for e in entities if site.delivers(e)], [e for e in entities if not site.delivers(e)],
            [m for m in empty if mart_module(m) == module], site.name, site.currency, site.source,
        ))
    con.execute("CREATE SCHEMA IF NOT EXISTS ops")
    con.execute(
        "CREATE OR REPLACE TABLE ops.module_status (module VARCHAR, status VARCHAR, entities_delivered VARCHAR[], "
        "entities_not_delivered VARCHAR[], empty_marts VARCHAR[], site VARCHAR, currency VARCHAR, "
        "config_source VARCHAR)"
    )
    con.executemany("INSERT INTO ops.module_status VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return len(rows)
