{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['order_id', 'line_no'],
        on_schema_change='fail'
    )
}}
-- order_items: the latest version of every (order_id, line_no) ever seen, delete tombstones included.
-- Incremental over the raw zone: see macros/incremental_latest.sql. Cleaning: clean_order_items(), shared with stg_crm__order_items.
-- Grain: one row per order_id, line_no.
{%- set columns = [
    'order_id', 'line_no', 'product_id', 'quantity', 'unit_price', 'discount',
    'updated_at', 'is_deleted', '_extract_date', '_source_file', '_source_line', '_loaded_at', '_batch'
] %}
with

raw_rows as (

    select * from {{ source('crm', 'order_items') }}
    where {{ new_batches_filter() }}

),

cleaned as (

    {{ clean_order_items('raw_rows') }}

),

latest as (

    {{ latest_versions('cleaned', ['order_id', 'line_no'], columns) }}

)

select {{ columns | join(', ') }}
from latest
