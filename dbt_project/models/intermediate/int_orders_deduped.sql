{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['order_id'],
        on_schema_change='fail'
    )
}}
-- orders: the latest version of every order_id ever seen, delete tombstones included (is_deleted).
-- Incremental over the raw zone: see macros/incremental_latest.sql. Cleaning: clean_orders(), shared with stg_crm__orders.
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

    {{ clean_orders('raw_rows') }}

),

latest as (

    {{ latest_versions('cleaned', ['order_id'], columns) }}

)

select {{ columns | join(', ') }}
from latest
