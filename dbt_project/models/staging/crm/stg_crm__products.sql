-- products: snapshot extract. The rows of the newest extract; keys missing from it are deleted.
-- Grain: one row per product_id.
with

raw_rows as (

    select * from {{ source('crm', 'products') }}

),

cleaned as (

    select
        {{ clean_text('product_id') }} as product_id,
        {{ normalize_name('name') }} as name,
        {{ clean_text('category') }} as category,
        list_price,
        launched_at,
        extra_fields,
        _extract_date,
        _source_file,
        _source_line,
        _loaded_at,
        cast(_batch as date) as _batch
    from raw_rows

),

latest as (

    {{ latest_snapshot('cleaned', ['product_id']) }}

),

final as (

    select
        product_id,
        name,
        category,
        list_price,
        launched_at,
        extra_fields,
        _extract_date,
        _source_file,
        _source_line,
        _loaded_at,
        _batch
    from latest

)

select * from final
