{#-
    customer_latest_versions(new_rows, key_columns, columns): the body of an incremental "latest version
    per key, deletes kept as tombstones" model over a delta entity (int_customer_communications,
    int_customer_behavior_events). Returns a complete SELECT of `columns` (which must include the key
    columns, updated_at, is_deleted and the lineage columns), one row per key.

    `new_rows` is a CTE holding the cleaned raw rows to consider: every raw version on a full build, the
    raw rows of batches newer than the table's newest `_batch` on an incremental run (see
    customer_new_batches_filter). On an incremental run the candidates are those new rows UNION the rows
    already in {{ this }} for the same keys, and the latest version is re-picked with the staging order
    (latest_version: updated_at desc nulls last, _extract_date desc, _source_line desc, _batch desc,
    _loaded_at desc). So:
      * a changed key: its newer version replaces the stored one;
      * an older version arriving late (later batch, older updated_at) loses to the stored newer one;
      * a delete: the tombstone (is_deleted = true) is stored, so a late older version cannot resurrect
        the key; marts filter `is_deleted = false`.
    Used with unique_key + incremental_strategy='delete+insert', the table after any sequence of
    incremental runs equals a full rebuild (the winner of a key depends only on the set of its versions).
-#}
{% macro customer_latest_versions(new_rows, key_columns, columns) -%}
    select {{ columns | join(', ') }}
    from (
        {%- set candidates -%}
            (
                select {{ columns | join(', ') }} from {{ new_rows }}
                {%- if is_incremental() %}
                union all
                select {{ columns | join(', ') }}
                from {{ this }} as stored
                where exists (
                    select 1 from {{ new_rows }} as incoming
                    where
                        {% for key in key_columns -%}
                        incoming.{{ key }} = stored.{{ key }}{% if not loop.last %} and {% endif %}
                        {%- endfor %}
                )
                {%- endif %}
            ) as candidates
        {%- endset %}
        {{ latest_version(candidates, key_columns) }}
    ) as latest
{%- endmacro %}

{#- customer_new_batches_filter(batch_column='_batch'): on an incremental run, a WHERE condition keeping
    raw rows of load batches newer than the newest batch already stored in {{ this }} (late-arriving rows
    are released in a later batch, so they are picked up even with an old _extract_date); on a full build
    `1 = 1`. An empty table re-reads everything. Re-reading a batch is harmless (the latest-version pick is idempotent). -#}
{% macro customer_new_batches_filter(batch_column='_batch') -%}
    {%- if is_incremental() -%}
        cast({{ batch_column }} as date) > coalesce(
            (select max(_batch) from {{ this }}), {{ dbt.cast(sql_string_literal('1900-01-01'), api.Column.translate_type('date')) }}
        )
    {%- else -%}
        1 = 1
    {%- endif -%}
{%- endmacro %}

{#- customer_incremental_drift(model_relation, source_relation, key_column): a singular-test body listing
    the keys where an incremental latest-version model (deletes kept as tombstones) differs from a full
    recomputation over every raw version of `source_relation`: the winning raw row is compared by its
    lineage (_extract_date, _source_file, _source_line, _batch) plus updated_at and is_deleted; the same
    raw row means the same content. Empty after any sequence of delta runs; rows here mean a raw batch was
    REPLACED (crm-warehouse reload) or edited by hand: rebuild with --full-refresh. It reads the source,
    not staging, so `dbt build --select staging` never pulls it in. -#}
{% macro customer_incremental_drift(model_relation, source_relation, key_column) -%}
with

raw_versions as (

    select
        {{ clean_text(key_column) }} as {{ key_column }},
        updated_at,
        coalesce(is_deleted, false) as is_deleted,
        _extract_date,
        _source_file,
        _source_line,
        cast(_batch as date) as _batch,
        _loaded_at
    from {{ source_relation }}
    where {{ clean_text(key_column) }} is not null

),

expected as (

    select {{ key_column }}, updated_at, is_deleted, _extract_date, _source_file, _source_line, _batch
    from ({{ latest_version('raw_versions', [key_column]) }}) as latest

),

actual as (

    select {{ key_column }}, updated_at, is_deleted, _extract_date, _source_file, _source_line, _batch
    from {{ model_relation }}

),

missing as (

    select 'missing_or_stale' as drift, * from (
        select * from expected
        {{ dbt.except() }}
        select * from actual
    ) as expected_only

),

unexpected as (

    select 'unexpected' as drift, * from (
        select * from actual
        {{ dbt.except() }}
        select * from expected
    ) as actual_only

)

select * from missing
union all
select * from unexpected
{%- endmacro %}
