-- orders: delta extract. Latest version per key; keys whose latest version is deleted are dropped.
-- Grain: one row per order_id.
with

raw_rows as (

    select * from {{ source('crm', 'orders') }}

),

cleaned as (

    select
        {{ clean_text('order_id') }} as order_id,
        {{ clean_text('customer_id') }} as customer_id,
        {{ clean_text('rep_id') }} as rep_id,
        order_date,
        {{ clean_code('status') }} as status,
        {{ clean_code('channel') }} as channel,
        upper({{ clean_text('currency') }}) as currency,  -- ISO 4217: upper-case, as in the contract
        updated_at,
        is_deleted,
        _extract_date,
        _source_file,
        _source_line,
        _loaded_at,
        cast(_batch as date) as _batch
    from raw_rows

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
        _extract_date,
        _source_file,
        _source_line,
        _loaded_at,
        _batch
    from latest
    where coalesce(is_deleted, false) = false

)

select * from final
