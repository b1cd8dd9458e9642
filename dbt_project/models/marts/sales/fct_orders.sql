-- Orders with their line totals and revenue, source customer id plus the resolved master id.
-- net_revenue counts completed orders only (cancelled and refunded orders bring no revenue).
-- Grain: one row per order_id (current, non-deleted orders).
with

orders as (

    select
        order_id,
        customer_id,
        rep_id,
        order_date,
        order_month,
        status,
        channel,
        currency,
        source_currency,
        n_lines,
        units,
        gross_amount,
        discount_amount,
        net_amount,
        updated_at
    from {{ ref('int_orders_totaled') }}

),

id_map as (

    select
        customer_id,
        master_customer_id
    from {{ ref('int_customer_id_map') }}

)

select
    cast(orders.order_id as {{ dbt.type_string() }}) as order_id,
    cast(orders.customer_id as {{ dbt.type_string() }}) as customer_id,
    cast(coalesce(id_map.master_customer_id, orders.customer_id) as {{ dbt.type_string() }}) as master_customer_id,
    cast(orders.rep_id as {{ dbt.type_string() }}) as rep_id,
    cast(orders.order_date as {{ dbt.type_timestamp() }}) as order_date,
    cast(orders.order_month as date) as order_month,
    cast(orders.status as {{ dbt.type_string() }}) as status,
    cast(orders.channel as {{ dbt.type_string() }}) as channel,
    cast(orders.currency as {{ dbt.type_string() }}) as currency,
    cast(orders.source_currency as {{ dbt.type_string() }}) as source_currency,
    cast(orders.n_lines as integer) as n_lines,
    cast(orders.units as bigint) as units,
    cast(orders.gross_amount as {{ type_money() }}) as gross_amount,
    cast(orders.discount_amount as {{ type_money() }}) as discount_amount,
    cast(orders.net_amount as {{ type_money() }}) as net_amount,
    cast(orders.status = 'completed' as boolean) as is_completed,
    cast(case when orders.status = 'completed' then orders.net_amount else 0 end as {{ type_money() }}) as net_revenue,
    cast(case when orders.status = 'completed' then orders.units else 0 end as bigint) as net_units,
    cast(orders.updated_at as {{ dbt.type_timestamp() }}) as updated_at
from orders
left join id_map
    on orders.customer_id = id_map.customer_id
