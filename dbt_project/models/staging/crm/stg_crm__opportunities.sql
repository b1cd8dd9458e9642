-- opportunities: delta extract. Latest version per key; keys whose latest version is deleted are dropped.
-- Grain: one row per opportunity_id.
with

raw_rows as (

    select * from {{ source('crm', 'opportunities') }}

),

cleaned as (

    select
        {{ clean_text('opportunity_id') }} as opportunity_id,
        {{ clean_text('customer_id') }} as customer_id,
        {{ clean_text('rep_id') }} as rep_id,
        created_at,
        {{ clean_code('stage') }} as stage,
        amount,
        close_date,
        is_closed,
        is_won,
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

    {{ latest_version('cleaned', ['opportunity_id']) }}

),

final as (

    select
        opportunity_id,
        customer_id,
        rep_id,
        created_at,
        stage,
        amount,
        close_date,
        is_closed,
        is_won,
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
