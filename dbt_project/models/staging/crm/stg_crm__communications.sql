-- communications: delta extract. Latest version per key; keys whose latest version is deleted are dropped.
-- Grain: one row per communication_id.
with

raw_rows as (

    select * from {{ source('crm', 'communications') }}

),

cleaned as (

    select
        {{ clean_text('communication_id') }} as communication_id,
        {{ clean_text('customer_id') }} as customer_id,
        {{ clean_code('channel') }} as channel,
        {{ clean_code('direction') }} as direction,
        occurred_at,
        {{ clean_text('subject') }} as subject,
        {{ clean_text('content') }} as content,
        {{ clean_code('outcome') }} as outcome,
        {{ clean_text('rep_id') }} as rep_id,
        {{ clean_text('campaign_id') }} as campaign_id,
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

    {{ latest_version('cleaned', ['communication_id']) }}

),

final as (

    select
        communication_id,
        customer_id,
        channel,
        direction,
        occurred_at,
        subject,
        content,
        outcome,
        rep_id,
        campaign_id,
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
