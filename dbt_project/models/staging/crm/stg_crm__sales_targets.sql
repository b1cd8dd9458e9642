-- sales_targets: snapshot extract. The rows of the newest extract; keys missing from it are deleted.
-- Grain: one row per period, rep_id.
with

raw_rows as (

    select * from {{ source('crm', 'sales_targets') }}

),

cleaned as (

    select
        {{ clean_text('period') }} as period,
        {{ clean_text('rep_id') }} as rep_id,
        {{ clean_text('region') }} as region,
        target_amount,
        target_units,
        budget,
        extra_fields,
        _extract_date,
        _source_file,
        _source_line,
        _loaded_at,
        cast(_batch as date) as _batch
    from raw_rows

),

latest as (

    {{ latest_snapshot('cleaned', ['period', 'rep_id']) }}

),

final as (

    select
        period,
        rep_id,
        region,
        target_amount,
        target_units,
        budget,
        extra_fields,
        _extract_date,
        _source_file,
        _source_line,
        _loaded_at,
        _batch
    from latest

)

select * from final
