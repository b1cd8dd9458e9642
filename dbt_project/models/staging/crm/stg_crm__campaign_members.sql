-- campaign_members: delta extract. Latest version per key; keys whose latest version is deleted are dropped.
-- Grain: one row per campaign_id, customer_id.
with

raw_rows as (

    select * from {{ source('crm', 'campaign_members') }}

),

cleaned as (

    {{ clean_campaign_members('raw_rows') }}

),

latest as (

    {{ latest_version('cleaned', ['campaign_id', 'customer_id']) }}

),

final as (

    select
        campaign_id,
        customer_id,
        member_group,
        assigned_at,
        sent_at,
        opened_at,
        clicked_at,
        responded_at,
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
