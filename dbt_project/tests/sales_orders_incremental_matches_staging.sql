{{ config(meta={'dagster': {'ref': {'name': 'int_orders_deduped'}}}) }}
-- The incremental latest-version layer int_orders_deduped must hold exactly the current rows that the full-recompute
-- staging view stg_crm__orders derives from the whole raw zone (EXCEPT both ways, every column): any row listed here
-- means an incremental run drifted from a full rebuild.
{%- set columns = 'order_id, customer_id, rep_id, order_date, status, channel, currency, updated_at, _extract_date, _source_file, _source_line, _loaded_at, _batch' %}
with

incremental_current as (

    select {{ columns }}
    from {{ ref('int_orders_deduped') }}
    where not is_deleted

),

full_recompute as (

    select {{ columns }}
    from {{ ref('stg_crm__orders') }}

),

only_incremental as (

    select * from incremental_current
    {{ dbt.except() }}
    select * from full_recompute

),

only_full as (

    select * from full_recompute
    {{ dbt.except() }}
    select * from incremental_current

)

select 'only in int_orders_deduped' as difference, only_incremental.* from only_incremental
union all
select 'only in stg_crm__orders' as difference, only_full.* from only_full
