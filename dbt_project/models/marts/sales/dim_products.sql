-- Products of the current catalogue snapshot.
-- Grain: one row per product_id.
with

products as (

    select
        product_id,
        name,
        category,
        list_price,
        launched_at
    from {{ ref('stg_crm__products') }}

)

select
    cast(product_id as {{ dbt.type_string() }}) as product_id,
    cast(name as {{ dbt.type_string() }}) as product_name,
    cast(category as {{ dbt.type_string() }}) as category,
    cast(list_price as {{ type_money() }}) as list_price,
    cast(launched_at as date) as launched_at
from products
