-- campaign_spend: delta extract. Latest version per key; keys whose latest version is deleted are dropped.
-- Grain: one row per campaign_id, date.
with

raw_rows as (

    select * from {{ source('crm', 'campaign_spend') }}

),

cleaned as (

    select
        {{ clean_text('campaign_id') }} as campaign_id,
        date,
        spend,
        progress_pct,
        {{ clean_code('status') }} as status,
        {{ clean_text('risk_note') }} as risk_note,
        updated_at,
        is_deleted,
        extra_fields,
        _extract_date,
        _source_file,
        _source_line,
        _loaded_at,
        cast(_batch as date) as _batch
    from raw_rows

),

latest as (

    {{ latest_version('cleaned', ['campaign_id', 'date']) }}

),

final as (

    select
        campaign_id,
        date,
        spend,
        progress_pct,
        status,
        risk_note,
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
