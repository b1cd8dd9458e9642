{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['order_id'],
        on_schema_change='fail'
    )
}}
-- orders: the latest version of every order_id ever seen, delete tombstones included (is_deleted).
-- Incremental over the raw zone: see macros/incremental_latest.sql. Cleaning = stg_crm__orders.
-- Grain: one row per order_id.
{%- set columns = [
    'order_id', 'customer_id', 'rep_id', 'order_date', 'status', 'channel', 'currency',
    'updated_at', 'is_deleted', '_extract_date', '_source_file', '_source_line', '_loaded_at', '_batch'
] %}
with

raw_rows as (

    select * from {{ source('crm', 'orders') }}
    where {{ new_batches_filter() }}

),

cleaned as (

    select
        {{ clean_text('order_id') }} as order_id,
        {{ clean_text('customer_id') }} as customer_id,
        {{ clean_text('rep_id') }} as rep_id,
        order_date,
        {{ clean_code('status') }} as status,
        {{ clean_code('channel') }} as channel,
        upper({{ clean_text('currency') }}) as currency,
        updated_at,
        coalesce(is_deleted, false) as is_deleted,
        _extract_date,
        _source_file,
        _source_line,
        _loaded_at,
        cast(_batch as date) as _batch
    from raw_rows

),

latest as (

    {{ latest_versions('cleaned', ['order_id'], columns) }}

)

select {{ columns | join(', ') }}
from latest
