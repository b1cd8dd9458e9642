"""The generated dbt SQL: one staging model per contract entity, the `int_<entity>_deduped` incremental
models, the `clean_<entity>()` macros both read, and the contract's rules as macros (contract_rules.sql).

Every model has the same shape, so it is written from the contract rather than by hand:
  staging   source -> clean_<entity>() -> latest_version / latest_snapshot -> the staging column list
  deduped   new load batches of the source -> clean_<entity>() -> latest_versions() (tombstones kept)
"""

from __future__ import annotations

import json

from dbt_contract import (
    DEDUPED_MODELS,
    EXTRA_FIELDS,
    GENERATED_BY,
    LINEAGE,
    LINEAGE_SQL,
    SOURCE_NAME,
    STAGING_EXTRAS,
    C,
    clean_sql,
    cleaned_columns,
    staging_columns,
    staging_name,
)

SQL_HEADER = f"-- {GENERATED_BY}\n"


def _keys(entity) -> list[str]:
    return [staging_name(entity, entity.column(k)) for k in entity.key]


def _key_label(keys: list[str]) -> str:
    return keys[0] if len(keys) == 1 else f"({', '.join(keys)})"


def _list(names) -> str:
    return "[" + ", ".join(f"'{n}'" for n in names) + "]"


def _personal(entity) -> list[str]:
    return [c.name for c in entity.columns if c.pii or c.free_text]


def _cte(name: str, body: str) -> str:
    return f"{name} as (\n\n{body}\n\n)"


def cleaning_macros() -> str:
    """macros/generated/staging_cleaning.sql: clean_<entity>(relation) for every entity."""
    out = [
        "{#- " + GENERATED_BY + " -#}\n\n",
        "{#-\n"
        "    clean_<entity>(relation): the cleaning of one contract entity, shared by its staging view and any\n"
        "    model that reads the raw zone itself (an incremental model must read only new load batches, so it\n"
        "    cannot read the staging view, the latest version over all batches; the *_incremental_matches_staging\n"
        "    tests check they agree at every build). Each returns a SELECT over `relation` (raw rows with the\n"
        "    lineage columns) of the cleaned columns in contract order (staging names), every row kept,\n"
        "    is_deleted never null, _batch a DATE. How a column is cleaned: dbt_project/scripts/dbt_contract.py.\n"
        "-#}\n",
    ]
    for e in C.ENTITIES:
        lines = [f"{clean_sql(c)} as {staging_name(e, c)}" if clean_sql(c) != staging_name(e, c)
                 else staging_name(e, c) for c in e.columns]
        lines.append(EXTRA_FIELDS[0])
        lines += [f"{LINEAGE_SQL[n]} as {n}" if n in LINEAGE_SQL else n for n, _t, _d in LINEAGE]
        out.append(
            f"\n{{% macro clean_{e.name}(relation) -%}}\n"
            "    select\n"
            + ",\n".join(f"        {line}" for line in lines)
            + "\n    from {{ relation }}\n"
            "{%- endmacro %}\n"
        )
    return "".join(out)


def staging_sql(entity) -> str:
    """models/staging/crm/stg_crm__<entity>.sql."""
    keys = _keys(entity)
    if entity.kind == C.DELTA:
        about = "delta extract. Latest version per key; keys whose latest version is deleted are dropped."
        latest = f"    {{{{ latest_version('cleaned', {_list(keys)}) }}}}"
        where = "\n    where coalesce(is_deleted, false) = false"
    else:
        about = "snapshot extract. The rows of the newest extract; keys missing from it are deleted."
        latest = f"    {{{{ latest_snapshot('cleaned', {_list(keys)}) }}}}"
        where = ""
    head = [SQL_HEADER, f"-- {entity.name}: {about}\n"]
    if entity.doc:
        head.append(f"-- Extract: {entity.doc}.\n")
    head += [f"-- {x.name}: {x.doc}.\n" for x in STAGING_EXTRAS.get(entity.name, [])]
    if _personal(entity):
        head.append(f"-- Holds raw personal data ({', '.join(_personal(entity))}): work file only.\n")
    head.append(f"-- Grain: one row per {', '.join(keys)}.\n")
    columns = ",\n".join(
        f"        {name}" if sql == name else f"        {sql} as {name}" for name, sql in staging_columns(entity)
    )
    ctes = [
        _cte("raw_rows", f"    select * from {{{{ source('{SOURCE_NAME}', '{entity.name}') }}}}"),
        _cte("cleaned", f"    {{{{ clean_{entity.name}('raw_rows') }}}}"),
        _cte("latest", latest),
        _cte("final", f"    select\n{columns}\n    from latest{where}"),
    ]
    return "".join(head) + "with\n\n" + ",\n\n".join(ctes) + "\n\nselect * from final\n"


def deduped_sql(entity, model: str) -> str:
    """models/intermediate/<model>.sql: incremental latest version of every key, tombstones kept."""
    keys = _keys(entity)
    columns = cleaned_columns(entity)
    rows: list[list[str]] = [[]]
    for name in (f"'{c}'" for c in columns):  # the column list, wrapped at ~100 characters
        if rows[-1] and len(", ".join([*rows[-1], name])) > 96:
            rows.append([])
        rows[-1].append(name)
    head = [
        SQL_HEADER,
        "{{\n    config(\n        materialized='incremental',\n        incremental_strategy='delete+insert',\n"
        f"        unique_key={_list(keys)},\n        on_schema_change='fail'\n    )\n}}}}\n",
        f"-- {entity.name}: the latest version of every {_key_label(keys)} ever seen, delete tombstones included\n"
        "-- (is_deleted). Incremental over the raw zone: see macros/incremental_latest.sql. Cleaning:\n"
        f"-- clean_{entity.name}() (macros/generated/staging_cleaning.sql), shared with stg_crm__{entity.name}.\n",
    ]
    if _personal(entity):
        head.append(f"-- Holds raw personal data ({', '.join(_personal(entity))}): work file only.\n")
    head.append(f"-- Grain: one row per {', '.join(keys)}.\n")
    head.append("{%- set columns = [\n" + ",\n".join("    " + ", ".join(r) for r in rows) + "\n] %}\n")
    ctes = [
        _cte(
            "raw_rows",
            f"    select * from {{{{ source('{SOURCE_NAME}', '{entity.name}') }}}}\n"
            "    where {{ new_batches_filter() }}",
        ),
        _cte("cleaned", f"    {{{{ clean_{entity.name}('raw_rows') }}}}"),
        _cte("latest", f"    {{{{ latest_versions('cleaned', {_list(keys)}, columns) }}}}"),
    ]
    return "".join(head) + "with\n\n" + ",\n\n".join(ctes) + "\n\nselect {{ columns | join(', ') }}\nfrom latest\n"


def rules_sql() -> str:
    """Jinja macros returning the contract's rules, so dbt and Python read one list."""
    parts = ", ".join(json.dumps(p) for p in C.GENERIC_EMAIL_LOCAL_PARTS)
    codes = {e.name: {c.name: list(c.codes) for c in e.columns if c.codes} for e in C.ENTITIES}
    codes = {entity: columns for entity, columns in codes.items() if columns}
    return (
        "{#- " + GENERATED_BY + " -#}\n\n"
        "{#- customer_generic_email_local_parts(): role mailboxes that never identify a person (info@, sales@ ...):\n"
        "    an email whose local part is one of these never links two customers on its own. -#}\n"
        "{% macro customer_generic_email_local_parts() -%}\n"
        f"    {{{{ return([{parts}]) }}}}\n"
        "{%- endmacro %}\n\n"
        "{#- contract_codes(entity, column): the allowed codes of a coded column of the extract contract\n"
        "    (e.g. contract_codes('communications', 'channel')), for models that pivot or list them. -#}\n"
        "{% macro contract_codes(entity, column) -%}\n"
        f"    {{%- set codes = {json.dumps(codes, ensure_ascii=False)} -%}}\n"
        "    {{ return(codes[entity][column]) }}\n"
        "{%- endmacro %}\n"
    )


def deduped_models() -> dict[str, str]:
    """model name -> SQL of every int_<entity>_deduped model."""
    for name in DEDUPED_MODELS:
        assert C.entity(name).kind == C.DELTA, f"{name}: only delta entities have versions to dedup"
    return {model: deduped_sql(C.entity(name), model) for name, model in DEDUPED_MODELS.items()}
