-- customer_relationships: delta extract. Latest version per key; keys whose latest version is deleted are dropped.
-- Grain: one row per from_customer_id, to_customer_id, relationship_type.
with

raw_rows as (

    select * from {{ source('crm', 'customer_relationships') }}

),

cleaned as (

    select
        {{ clean_text('from_customer_id') }} as from_customer_id,
        {{ clean_text('to_customer_id') }} as to_customer_id,
        {{ clean_code('relationship_type') }} as relationship_type,
        since,
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

    {{ latest_version('cleaned', ['from_customer_id', 'to_customer_id', 'relationship_type']) }}

),

final as (

    select
        from_customer_id,
        to_customer_id,
        relationship_type,
        since,
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
