{{
    config(
        materialized='incremental',
        unique_key='event_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail'
    )
}}
-- Behaviour events, latest version per event_id, deletes kept as tombstones (is_deleted = true),
-- incremental by load batch (see macros/incremental_latest.sql). Holds the SOURCE customer_id only: the
-- master id is joined in the marts (customer_behavior, dim_customers).
-- Grain: one row per event_id ever delivered.
with

raw_rows as (

    select * from {{ source('crm', 'behavior_events') }}
    where {{ new_batches_filter() }}

),

cleaned as (

    select *
    from ({{ clean_behavior_events('raw_rows') }}) as cleaned_rows
    where event_id is not null

),

latest as (

    {{ latest_versions('cleaned', ['event_id'], [
        'event_id', 'customer_id', 'event_type', 'occurred_at', 'product_id', 'channel', 'updated_at',
        'is_deleted', '_extract_date', '_source_file', '_source_line', '_loaded_at', '_batch'
    ]) }}

)

select
    event_id,
    customer_id,
    event_type,
    occurred_at,
    product_id,
    channel,
    updated_at,
    is_deleted,
    _extract_date,
    _source_file,
    _source_line,
    _loaded_at,
    _batch
from latest
