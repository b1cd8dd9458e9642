-- sales_reps: snapshot extract. The rows of the newest extract; keys missing from it are deleted.
-- Grain: one row per rep_id.
with

raw_rows as (

    select * from {{ source('crm', 'sales_reps') }}

),

cleaned as (

    select
        {{ clean_text('rep_id') }} as rep_id,
        {{ normalize_name('name') }} as name,
        {{ clean_text('region') }} as region,
        {{ clean_text('team') }} as team,
        hired_at,
        extra_fields,
        _extract_date,
        _source_file,
        _source_line,
        _loaded_at,
        cast(_batch as date) as _batch
    from raw_rows

),

latest as (

    {{ latest_snapshot('cleaned', ['rep_id']) }}

),

final as (

    select
        rep_id,
        name,
        {{ name_key('name') }} as name_normalized,
        region,
        team,
        hired_at,
        extra_fields,
        _extract_date,
        _source_file,
        _source_line,
        _loaded_at,
        _batch
    from latest

)

select * from final
