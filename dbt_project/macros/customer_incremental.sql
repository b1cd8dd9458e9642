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
