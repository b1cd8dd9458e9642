"""The extract contract as data: every entity, its columns, types, keys and rules.

One source of truth shared by the generator (what it writes), the raw loader (how it parses and
which rows it quarantines), the dbt sources, staging and dedup models (generated from it by
dbt_project/scripts/gen_sources.py) and the docs (`docs/extract_contract.md`).
Identifiers used in SQL anywhere in the project come from this allow-list, never from a file.

The package, one job per module (every name is importable from here, `contract.X`):
  schema.py     extract kinds, column types, `Column` / `Entity`, shared code sets (ISO 4217, priorities)
  reasons.py    quarantine reason codes and precedence, field checks, their patterns and lists
  customer.py, sales.py, marketing.py, service.py   the entities of each CRM module
  entities.py   ENTITIES in load order, `entity(name)`, MODULES and the delivery rules
  files.py      extract file naming (folder manifest, encodings) and the raw zone's lineage columns
  docs.py       the Markdown column tables of docs/extract_contract.md (`python -m orchestration.contract`)
"""

from __future__ import annotations

from .docs import markdown_tables
from .entities import (
    ALWAYS_DELIVERED,
    ENTITIES,
    ENTITY_BY_NAME,
    LOAD_ORDER,
    MODULE_OF,
    MODULES,
    OPTIONAL_ENTITIES,
    entity,
)
from .files import LINEAGE_COLUMNS, MANIFEST_NAME, SUPPORTED_ENCODINGS
from .reasons import (
    BAD_DATE,
    CONFLICTING_DUPLICATE_KEY,
    EMAIL_PATTERN,
    FIELD_REASONS,
    FUTURE_TIMESTAMP,
    GENERIC_EMAIL_LOCAL_PARTS,
    IMPOSSIBLE_BIRTH_DATE,
    INVALID_EMAIL,
    INVALID_PHONE,
    MIN_BIRTH_DATE,
    MISSING_KEY,
    NEGATIVE_AMOUNT,
    ORPHAN_FK,
    OUT_OF_RANGE,
    PHONE_PATTERN,
    REASON_PRECEDENCE,
    UNKNOWN_CODE,
    UNPARSEABLE_VALUE,
    WRONG_COLUMN_COUNT,
)
from .schema import (
    BOOL,
    CHANNELS_COMM,
    DATE,
    DELTA,
    FX_RATE,
    ID,
    INT,
    ISO_4217,
    MONEY,
    PRIORITIES,
    RATE,
    SNAPSHOT,
    TEXT,
    TS,
    Column,
    Entity,
    _delta_tail,
    _iso_4217,
)

__all__ = [
    "ALWAYS_DELIVERED", "BAD_DATE", "BOOL", "CHANNELS_COMM", "CONFLICTING_DUPLICATE_KEY", "Column", "DATE",
    "DELTA", "EMAIL_PATTERN", "ENTITIES", "ENTITY_BY_NAME", "Entity", "FIELD_REASONS", "FUTURE_TIMESTAMP",
    "FX_RATE", "GENERIC_EMAIL_LOCAL_PARTS", "ID", "IMPOSSIBLE_BIRTH_DATE", "INT", "INVALID_EMAIL",
    "INVALID_PHONE", "ISO_4217", "LINEAGE_COLUMNS", "LOAD_ORDER", "MANIFEST_NAME", "MIN_BIRTH_DATE", "MISSING_KEY", "MODULES",
    "MODULE_OF", "MONEY", "NEGATIVE_AMOUNT", "OPTIONAL_ENTITIES", "ORPHAN_FK", "OUT_OF_RANGE", "PHONE_PATTERN",
    "PRIORITIES", "RATE", "REASON_PRECEDENCE", "SNAPSHOT", "SUPPORTED_ENCODINGS", "TEXT", "TS", "UNKNOWN_CODE",
    "UNPARSEABLE_VALUE", "WRONG_COLUMN_COUNT", "_delta_tail", "_iso_4217", "entity", "markdown_tables",
]
