-- Order lines of current orders with exact money columns (in the site currency, `currency`; converted from
-- the order's own currency, `source_currency`, at `fx_rate`) and the order's status, date, rep and customer.
-- Lines whose order is missing or deleted are not facts (they stay visible in intermediate).
-- Grain: one row per order_id, line_no.
with

items as (

    select
        order_id,
        line_no,
        product_id,
        quantity,
        unit_price,
        discount,
        gross_amount,
        discount_amount,
        net_amount,
        source_currency,
        fx_rate,
        source_net_amount,
        updated_at
    from {{ ref('int_order_items_priced') }}

),

orders as (

    select
        order_id,
        customer_id,
        rep_id,
        order_date,
        order_month,
        status
    from {{ ref('int_orders_totaled') }}

),

id_map as (

    select
        customer_id,
        master_customer_id
    from {{ ref('int_customer_id_map') }}

)

select
    cast(items.order_id as {{ dbt.type_string() }}) as order_id,
    cast(items.line_no as integer) as line_no,
    cast(items.product_id as {{ dbt.type_string() }}) as product_id,
    cast(orders.customer_id as {{ dbt.type_string() }}) as customer_id,
    cast(coalesce(id_map.master_customer_id, orders.customer_id) as {{ dbt.type_string() }}) as master_customer_id,
    cast(orders.rep_id as {{ dbt.type_string() }}) as rep_id,
    cast(orders.order_date as {{ dbt.type_timestamp() }}) as order_date,
    cast(orders.order_month as date) as order_month,
    cast(orders.status as {{ dbt.type_string() }}) as order_status,
    cast(items.quantity as integer) as quantity,
    cast(items.unit_price as {{ type_money() }}) as unit_price,
    cast(items.discount as decimal(9, 4)) as discount,
    cast(items.gross_amount as {{ type_money() }}) as gross_amount,
    cast(items.discount_amount as {{ type_money() }}) as discount_amount,
    cast(items.net_amount as {{ type_money() }}) as net_amount,
    cast(case when orders.status = 'completed' then items.net_amount else 0 end as {{ type_money() }}) as net_revenue,
    cast(case when orders.status = 'completed' then items.quantity else 0 end as integer) as net_units,
    cast({{ site_currency_literal() }} as {{ dbt.type_string() }}) as currency,
    cast(items.source_currency as {{ dbt.type_string() }}) as source_currency,
    cast(items.fx_rate as {{ type_fx_rate() }}) as fx_rate,
    cast(items.source_net_amount as {{ type_money() }}) as source_net_amount,
    cast(items.updated_at as {{ dbt.type_timestamp() }}) as updated_at
from items
inner join orders
    on items.order_id = orders.order_id
left join id_map
    on orders.customer_id = id_map.customer_id
