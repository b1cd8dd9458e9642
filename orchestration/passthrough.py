"""Passthrough columns: a site promotes an extra column of its extract files to a typed mart column.

The loader keeps every column a file has and the contract lacks in the raw map column `extra_fields`
(name -> text; reported in ops.load_audit and on the console) and staging carries it. A site that wants
one of them in a mart names it in crm.yml (the Fivetran `passthrough_columns` idea):

    passthrough:
      customers:                       # the extract entity whose file has the column
        - name: loyalty_tier           # the column's header in the file
          type: VARCHAR                # one of PASSTHROUGH_TYPES (default VARCHAR)
          alias: loyalty_tier          # the mart column (default: the name); lower_snake_case
      orders:
        - {name: Coupon Code, alias: coupon_code}

The mart of each entity (PASSTHROUGH_MARTS) then has the column, cast with try_cast (a value that does not
cast is NULL in the mart and stays as text in staging's extra_fields). dbt reads the list from the
environment variable CRM_SITE_PASSTHROUGH (JSON, set by the dbt step from the site configuration;
macros/passthrough.sql), like the site currency.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass

from orchestration import contract
from orchestration.errors import CrmWarehouseError

PASSTHROUGH_ENV = "CRM_SITE_PASSTHROUGH"
PASSTHROUGH_MARTS = {"customers": "dim_customers", "orders": "fct_orders"}
PASSTHROUGH_TYPES = ("VARCHAR", "BIGINT", "INTEGER", "DOUBLE", "DECIMAL(18,2)", "BOOLEAN", "DATE", "TIMESTAMP")
ALIAS_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,62}")
LINEAGE = ("extra_fields", "_extract_date", "_source_file", "_source_line", "_loaded_at", "_batch")


@dataclass(frozen=True)
class PassthroughColumn:
    entity: str
    name: str  # header of the extra column in the extract file (a key of extra_fields)
    type: str  # one of PASSTHROUGH_TYPES
    alias: str  # the mart column


def parse_passthrough(value: object, where: str) -> tuple[PassthroughColumn, ...]:
    """The `passthrough:` mapping of crm.yml, checked; errors name the key (`<file>: passthrough.<entity>[i]`)."""
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise CrmWarehouseError(f"{where}: expected a mapping entity -> list of columns")
    columns: list[PassthroughColumn] = []
    for entity, items in value.items():
        at = f"{where}.{entity}"
        if entity not in PASSTHROUGH_MARTS:
            raise CrmWarehouseError(f"{at}: passthrough columns are supported for "
                                    f"{', '.join(PASSTHROUGH_MARTS)} (into {', '.join(PASSTHROUGH_MARTS.values())})")
        if not isinstance(items, list):
            raise CrmWarehouseError(f"{at}: expected a list of {{name, type, alias}}")
        taken = set(contract.entity(entity).column_names) | set(LINEAGE)
        for i, item in enumerate(items):
            columns.append(_column(entity, item, f"{at}[{i}]", taken))
            taken.add(columns[-1].alias)
    return tuple(columns)


def _column(entity: str, item: object, at: str, taken: set[str]) -> PassthroughColumn:
    if isinstance(item, str):
        item = {"name": item}
    if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"].strip():
        raise CrmWarehouseError(f"{at}: expected a mapping with at least `name` (the column's header)")
    unknown = sorted(set(item) - {"name", "type", "alias"})
    if unknown:
        raise CrmWarehouseError(f"{at}: unknown key(s) {', '.join(unknown)}; expected name, type, alias")
    name = item["name"]
    type_ = str(item.get("type") or "VARCHAR").upper().replace(" ", "")
    if type_ not in PASSTHROUGH_TYPES:
        raise CrmWarehouseError(f"{at}: type {item.get('type')!r} is not one of {', '.join(PASSTHROUGH_TYPES)}")
    alias = str(item.get("alias") or name)
    if not ALIAS_PATTERN.fullmatch(alias):
        raise CrmWarehouseError(f"{at}: alias {alias!r} must be lower_snake_case (a-z, 0-9, _; at most 63)")
    if alias in taken:
        raise CrmWarehouseError(f"{at}: alias {alias!r} is already a column of {entity} or of this list")
    return PassthroughColumn(entity, name, type_, alias)


def passthrough_env(columns: tuple[PassthroughColumn, ...]) -> str | None:
    """The JSON dbt reads (entity -> [{name, type, alias}]), or None when the site promotes nothing."""
    if not columns:
        return None
    by_entity: dict[str, list[dict]] = {}
    for col in columns:
        by_entity.setdefault(col.entity, []).append({k: v for k, v in asdict(col).items() if k != "entity"})
    return json.dumps(by_entity, sort_keys=True, ensure_ascii=False)
