{#-
    Current-state selection over the raw zone. Both macros return a complete SELECT statement to use
    as a CTE body, e.g. `latest as ( {{ latest_version('cleaned', ['customer_id']) }} )`.

    `relation` is a relation or CTE name holding the raw lineage columns (_extract_date, _source_line,
    _batch, _loaded_at); `key_columns` is a list of column names (the entity key from the contract).
    The result has every input column plus one ranking column (`_version_rank` / `_snapshot_rank`,
    always 1) - select explicit columns from it.
-#}

{#- latest_version(relation, key_columns, updated_at='updated_at'): delta entities.
    One row per key: the latest version, ordered by updated_at desc (null = oldest), then the newest
    extract (_extract_date desc), then the last record in the file (_source_line desc); _batch and
    _loaded_at only break ties between identical re-loads. Deleted versions are NOT removed here: the
    caller filters on is_deleted, so a key whose latest version is a delete disappears entirely. -#}
{% macro latest_version(relation, key_columns, updated_at='updated_at') -%}
    select *
    from (
        select
            *,
            row_number() over (
                partition by {{ key_columns | join(', ') }}
                order by
                    {{ updated_at }} desc nulls last,
                    _extract_date desc,
                    _source_line desc,
                    _batch desc,
                    _loaded_at desc
            ) as _version_rank
        from {{ relation }}
    ) as versions
    where _version_rank = 1
{%- endmacro %}

{#- latest_snapshot(relation, key_columns): snapshot entities (full list every extract).
    The rows of the newest _extract_date present in `relation` (a key missing from that snapshot has
    been deleted), one row per key (identical duplicates in a file, or the same extract re-loaded in a
    later batch, collapse to the last record). An extract whose file held no rows at all leaves no
    trace in the raw zone, so it cannot empty the entity: the previous snapshot stays current. -#}
{% macro latest_snapshot(relation, key_columns) -%}
    select *
    from (
        select
            *,
            row_number() over (
                partition by {{ key_columns | join(', ') }}
                order by _source_line desc, _batch desc, _loaded_at desc
            ) as _snapshot_rank
        from {{ relation }}
        where _extract_date = (select max(_extract_date) from {{ relation }})
    ) as snapshot_rows
    where _snapshot_rank = 1
{%- endmacro %}
