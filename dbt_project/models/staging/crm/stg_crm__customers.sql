-- customers: delta extract. Latest version per key; keys whose latest version is deleted are dropped.
-- Grain: one row per customer_id.
with

raw_rows as (

    select * from {{ source('crm', 'customers') }}

),

cleaned as (

    select
        {{ clean_text('customer_id') }} as customer_id,
        {{ normalize_name('name') }} as name,
        {{ clean_code('gender') }} as gender,
        birth_date,
        {{ clean_text('occupation') }} as occupation,
        {{ normalize_phone('phone') }} as phone,
        {{ clean_email('email') }} as email,
        {{ clean_text('address') }} as address,
        {{ clean_text('city') }} as city,
        {{ clean_text('region') }} as region,
        {{ clean_text('country') }} as country,
        {{ clean_code('customer_type') }} as customer_type,
        {{ clean_code('source') }} as source,
        {{ clean_code('status') }} as status,
        created_at,
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

    {{ latest_version('cleaned', ['customer_id']) }}

),

final as (

    select
        customer_id,
        name,
        {{ name_key('name') }} as name_normalized,
        gender,
        birth_date,
        occupation,
        phone,
        {{ phone_national('phone') }} as phone_normalized,
        email,
        address,
        city,
        region,
        country,
        customer_type,
        source,
        status,
        created_at,
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
