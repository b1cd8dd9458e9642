-- communications: delta extract. Latest version per key; keys whose latest version is deleted are dropped.
-- Grain: one row per communication_id.
with

raw_rows as (

    select * from {{ source('crm', 'communications') }}

),

cleaned as (

    {{ clean_communications('raw_rows') }}

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
