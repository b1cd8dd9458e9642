-- service_plans: snapshot extract. The rows of the newest extract; keys missing from it are deleted.
-- Grain: one row per priority, valid_from.
with

raw_rows as (

    select * from {{ source('crm', 'service_plans') }}

),

cleaned as (

    select
        {{ clean_code('priority') }} as priority,
        first_response_target_minutes,
        resolution_target_hours,
        csat_target,
        valid_from,
        extra_fields,
        _extract_date,
        _source_file,
        _source_line,
        _loaded_at,
        cast(_batch as date) as _batch
    from raw_rows

),

latest as (

    {{ latest_snapshot('cleaned', ['priority', 'valid_from']) }}

),

final as (

    select
        priority,
        first_response_target_minutes,
        resolution_target_hours,
        csat_target,
        valid_from,
        extra_fields,
        _extract_date,
        _source_file,
        _source_line,
        _loaded_at,
        _batch
    from latest

)

select * from final
