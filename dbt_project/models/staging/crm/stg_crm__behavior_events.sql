-- behavior_events: delta extract. Latest version per key; keys whose latest version is deleted are dropped.
-- Grain: one row per event_id.
with

raw_rows as (

    select * from {{ source('crm', 'behavior_events') }}

),

cleaned as (

    {{ clean_behavior_events('raw_rows') }}

),

latest as (

    {{ latest_version('cleaned', ['event_id']) }}

),

final as (

    select
        event_id,
        customer_id,
        event_type,
        occurred_at,
        product_id,
        channel,
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
