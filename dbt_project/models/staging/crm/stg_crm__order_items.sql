-- order_items: delta extract. Latest version per key; keys whose latest version is deleted are dropped.
-- Grain: one row per order_id, line_no.
with

raw_rows as (

    select * from {{ source('crm', 'order_items') }}

),

cleaned as (

    {{ clean_order_items('raw_rows') }}

),

latest as (

    {{ latest_version('cleaned', ['order_id', 'line_no']) }}

),

final as (

    select
        order_id,
        line_no,
        product_id,
        quantity,
        unit_price,
        discount,
        {{ line_net_amount('quantity', 'unit_price', 'discount') }} as line_net_amount,
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
