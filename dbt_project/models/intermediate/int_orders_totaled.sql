-- Current orders with the totals of their current lines, in the site currency (`currency`; converted
-- line by line from the order's own `source_currency`, see int_order_items_priced).
-- Grain: one row per order_id (live orders of the deduped layer; an order without lines has zero totals).
with

orders as (

    select
        order_id,
        customer_id,
        rep_id,
        order_date,
        status,
        channel,
        currency,
        updated_at
    from {{ ref('int_orders_deduped') }}
    where not is_deleted

),

line_totals as (

    select
        order_id,
        count(*) as n_lines,
        sum(quantity) as units,
        sum(gross_amount) as gross_amount,
        sum(discount_amount) as discount_amount,
        sum(net_amount) as net_amount
    from {{ ref('int_order_items_priced') }}
    group by order_id

)

select
    orders.order_id,
    orders.customer_id,
    orders.rep_id,
    orders.order_date,
    {{ sales_month_start('orders.order_date') }} as order_month,
    orders.status,
    orders.channel,
    {{ site_currency_literal() }} as currency,
    orders.currency as source_currency,
    cast(coalesce(line_totals.n_lines, 0) as integer) as n_lines,
    cast(coalesce(line_totals.units, 0) as bigint) as units,
    cast(coalesce(line_totals.gross_amount, 0) as {{ type_money() }}) as gross_amount,
    cast(coalesce(line_totals.discount_amount, 0) as {{ type_money() }}) as discount_amount,
    cast(coalesce(line_totals.net_amount, 0) as {{ type_money() }}) as net_amount,
    orders.updated_at
from orders
left join line_totals
    on orders.order_id = line_totals.order_id
