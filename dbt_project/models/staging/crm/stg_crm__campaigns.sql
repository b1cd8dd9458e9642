-- campaigns: snapshot extract. The rows of the newest extract; keys missing from it are deleted.
-- Grain: one row per campaign_id.
with

raw_rows as (

    select * from {{ source('crm', 'campaigns') }}

),

cleaned as (

    select
        {{ clean_text('campaign_id') }} as campaign_id,
        {{ normalize_name('name') }} as name,
        {{ clean_text('goal') }} as goal,
        {{ clean_text('strategy') }} as strategy,
        {{ clean_text('measures') }} as measures,
        {{ clean_code('channel') }} as channel,
        start_date,
        end_date,
        budget,
        {{ clean_text('target_segment') }} as target_segment,
        {{ clean_text('kpi_metric') }} as kpi_metric,
        kpi_target,
        attribution_days,
        extra_fields,
        _extract_date,
        _source_file,
        _source_line,
        _loaded_at,
        cast(_batch as date) as _batch
    from raw_rows

),

latest as (

    {{ latest_snapshot('cleaned', ['campaign_id']) }}

),

final as (

    select
        campaign_id,
        name,
        goal,
        strategy,
        measures,
        channel,
        start_date,
        end_date,
        budget,
        target_segment,
        kpi_metric,
        kpi_target,
        attribution_days,
        extra_fields,
        _extract_date,
        _source_file,
        _source_line,
        _loaded_at,
        _batch
    from latest

)

select * from final
