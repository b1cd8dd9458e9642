-- orders: delta extract. Latest version per key; keys whose latest version is deleted are dropped.
-- Grain: one row per order_id.
with

raw_rows as (

    select * from {{ source('crm', 'orders') }}

),

cleaned as (

    {{ clean_orders('raw_rows') }}

),

latest as (

    {{ latest_version('cleaned', ['order_id']) }}

),

final as (

    select
        order_id,
        customer_id,
        rep_id,
        order_date,
        status,
        channel,
        currency,
        updated_at,
        extra_fields,
        _extract_date,
        _source_file,
        _source_line,
        _loaded_at,
        _batch
    from latest
    where coalesce(is_deleted, false) = false

)

select * from final
