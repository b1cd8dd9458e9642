"""Column roles: which columns identify a person (customer or order keys), hold their personal data, or a
keyed hash / masked / redacted form of it. Declared once, where each column is defined; read here by
`forget` and the raw loader's filter (orchestration/privacy/), publishing (plaintext personal data never
leaves the work file outside `restricted`) and the tests that BI-facing tables hold no raw personal data.

Where a role is declared:

* dbt models (marts, reports, intermediate, restricted): the column's `config.meta` in the model yml,
  read from the dbt manifest (settings.dbt_manifest_path(), once per manifest file):

      customer_key: source | master | false   a source customer id, or a master customer id (the
                                              smallest source id of the person); forget deletes the row
      order_key: true | false                 an order id (forget deletes the row; its lines follow)
      pii: name | email | phone | address | birth_date | free_text   personal data of that kind
      pii_form: plain | keyed_hash | masked | redacted               what of it the column holds (plain)

  In a model, meta decides: a declared column named like a key without `customer_key` is no key, and a
  key with any name is one. Only a column the yml does not list falls back to the naming convention.
* the raw zone (and staging, which renames nothing): the extract contract. A customer key is the key of
  `customers` or a column that `references` it; the same for orders; `pii` / `free_text` columns.
* tables dbt does not own (ml, ml_store and ops, written by Python), a missing manifest or one parsed
  before any role was declared (a stale target/): the naming convention `customer_id` / `*_customer_id`
  (master when `master_customer_id` / `*_master_customer_id`), `order_id` / `*_order_id`. That
  convention lives here only (`name_id_kind`).

Reads: the manifest JSON. Writes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from orchestration import contract
from orchestration.errors import CrmWarehouseError

CUSTOMER, ORDER = "customer_id", "order_id"  # the identifier kinds forget and the forgotten list use
SOURCE, MASTER = "source", "master"  # customer_key values
PII_KINDS = ("name", "email", "phone", "address", "birth_date", "free_text")
PII_FORMS = ("plain", "keyed_hash", "masked", "redacted")
ROLE_KEYS = ("customer_key", "order_key", "pii", "pii_form")


@dataclass(frozen=True)
class Role:
    """One column's role; `key` is CUSTOMER, ORDER or None, `customer` SOURCE / MASTER for customer keys."""

    key: str | None = None
    customer: str | None = None
    pii: str | None = None
    pii_form: str | None = None


NO_ROLE = Role()


def name_id_kind(column: str) -> str | None:
    """The naming convention, for tables no manifest or contract describes: customer_id, order_id or None."""
    name = column.lower()
    for kind in (CUSTOMER, ORDER):
        if name == kind or name.endswith("_" + kind):
            return kind
    return None


def name_role(column: str) -> Role:
    kind = name_id_kind(column)
    if kind == CUSTOMER:
        master = column.lower() == "master_customer_id" or column.lower().endswith("_master_customer_id")
        return Role(CUSTOMER, MASTER if master else SOURCE)
    return Role(kind) if kind else NO_ROLE


def contract_role(ent: contract.Entity, column: str) -> Role:
    """A raw-zone column's role from the extract contract (no role for a column the contract lacks)."""
    if column not in ent.column_names:
        return NO_ROLE
    col = ent.column(column)
    pii = None
    if col.free_text:
        pii = "free_text"
    elif col.pii:  # the contract's pii columns are named after their kind (a rep's `name` is a name)
        pii = column if column in PII_KINDS else "name"
    for kind, parent in ((CUSTOMER, "customers"), (ORDER, "orders")):
        if col.references == parent or (ent.name == parent and ent.key == (column,)):
            return Role(kind, SOURCE if kind == CUSTOMER else None, pii, "plain" if pii else None)
    return Role(pii=pii, pii_form="plain") if pii else NO_ROLE


def _meta_role(where: str, meta: dict) -> Role | None:
    """The role declared by a column's meta; None when it declares none of ROLE_KEYS."""
    if not any(k in meta for k in ROLE_KEYS):
        return None
    ck, ok, pii, form = (meta.get(k) for k in ROLE_KEYS)
    if ck not in (None, False, SOURCE, MASTER) or ok not in (None, False, True):
        raise CrmWarehouseError(f"{where}: meta customer_key must be source, master or false and order_key "
                                f"true or false (got customer_key={ck!r}, order_key={ok!r})")
    if (pii is not None and pii not in PII_KINDS) or (form is not None and (pii is None or form not in PII_FORMS)):
        raise CrmWarehouseError(f"{where}: meta pii must be one of {', '.join(PII_KINDS)} and pii_form (with pii) "
                                f"one of {', '.join(PII_FORMS)} (got pii={pii!r}, pii_form={form!r})")
    if ck and ok:
        raise CrmWarehouseError(f"{where}: a column is a customer key or an order key, not both")
    key = CUSTOMER if ck else ORDER if ok else None
    return Role(key, ck or None, pii, (form or "plain") if pii else None)


@dataclass(frozen=True)
class Relation:
    """The declared roles of one dbt model: column -> Role for every column its yml lists."""

    name: str  # schema.table
    path: str  # the model's file in the dbt project
    declared: dict[str, Role | None] = field(default_factory=dict)  # None: listed without a role

    def role(self, column: str) -> Role:
        if column in self.declared:
            return self.declared[column] or NO_ROLE
        return name_role(column)  # not listed in the yml: the convention, so nothing is missed


@dataclass(frozen=True)
class RoleBook:
    """Every relation of one manifest by (schema, table); `manifest` None when there was none."""

    manifest: Path | None
    relations: dict[tuple[str, str], Relation]

    def role(self, schema: str, table: str, column: str) -> Role:
        rel = self.relations.get((schema, table))
        if rel is not None:
            return rel.role(column)
        return name_role(column)

    def id_columns(self, schema: str, table: str, columns) -> dict[str, str]:
        """column -> CUSTOMER / ORDER for the key columns among `columns`."""
        return {c: r.key for c in columns if (r := self.role(schema, table, c)).key}

    def customer_keys(self, schema: str, table: str, columns, which: str | None = None) -> list[str]:
        """The customer-key columns among `columns` (only SOURCE or MASTER ones with `which`)."""
        return [c for c in columns if (r := self.role(schema, table, c)).key == CUSTOMER
                and which in (None, r.customer)]

    def pii_columns(self, schema: str, table: str, columns, kind: str | None = None,
                    form: str | None = None) -> list[str]:
        """The columns among `columns` holding personal data (of `kind`, in `form`, when given)."""
        return [c for c in columns if (r := self.role(schema, table, c)).pii and kind in (None, r.pii)
                and form in (None, r.pii_form)]

    def hashes(self, schema: str, table: str, columns) -> list[str]:
        return self.pii_columns(schema, table, columns, form="keyed_hash")


def _relations(manifest: dict) -> dict[tuple[str, str], Relation]:
    entities = {e.name: e for e in contract.ENTITIES}
    out = {}
    for node in manifest.get("nodes", {}).values():
        if node.get("resource_type") not in ("model", "seed", "snapshot"):
            continue
        table = node.get("alias") or node["name"]
        declared = {}
        for col in node.get("columns", {}).values():
            meta = {**(col.get("meta") or {}), **((col.get("config") or {}).get("meta") or {})}
            declared[col["name"]] = _meta_role(f"{node['original_file_path']}: {table}.{col['name']}", meta)
        staging = "/staging/" in "/" + node.get("original_file_path", "")
        ent = entities.get(table.split("__", 1)[-1]) if staging else None
        if ent is not None:  # staging: the contract's roles, for the columns its yml leaves undeclared
            declared = {c: r or (contract_role(ent, c) if c in ent.column_names else None)
                        for c, r in declared.items()}
        out[(node["schema"], table)] = Relation(f"{node['schema']}.{table}", node["original_file_path"], declared)
    return out


@lru_cache(maxsize=4)
def _load(path: Path, mtime_ns: int) -> RoleBook:
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CrmWarehouseError(f"{path}: the dbt manifest cannot be read ({exc}); run `make parse`") from None
    relations = _relations(manifest)
    if not any(r for rel in relations.values() for r in rel.declared.values()):
        return RoleBook(path, {})  # a manifest parsed before roles were declared: the naming convention
    return RoleBook(path, relations)


def roles(manifest: Path | None = None) -> RoleBook:
    """The roles of `manifest` (default: settings.dbt_manifest_path()), read once per manifest version.
    Without a manifest every table follows the naming convention (forget then misses nothing)."""
    if manifest is None:
        from orchestration.settings import dbt_manifest_path

        manifest = dbt_manifest_path()
    if not manifest.is_file():
        return RoleBook(None, {})
    return _load(manifest, manifest.stat().st_mtime_ns)
