-- Every raw version of every customer, cleaned like staging (no dedup, deletes kept), non-personal
-- columns only: the input of marts.dim_customers_history.
-- Grain: one row per raw customer record (customer_id, _extract_date, _source_line, _batch).
with

raw_rows as (

    select * from {{ source('crm', 'customers') }}

)

select
    {{ clean_text('customer_id') }} as customer_id,
    {{ clean_code('gender') }} as gender,
    {{ clean_text('occupation') }} as occupation,
    {{ clean_text('city') }} as city,
    {{ clean_text('region') }} as region,
    {{ clean_text('country') }} as country,
    {{ clean_code('customer_type') }} as customer_type,
    {{ clean_code('source') }} as source,
    {{ clean_code('status') }} as status,
    coalesce(is_deleted, false) as is_deleted,
    created_at,
    updated_at,
    _extract_date,
    _source_line,
    cast(_batch as date) as _batch,
    _loaded_at
from raw_rows
where {{ clean_text('customer_id') }} is not null
