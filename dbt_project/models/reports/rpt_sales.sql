-- Monthly sales by rep, region and product category: ADDITIVE measures only (order lines, units, money),
-- by the month the orders were placed. The rep-month plan, order counts, revenue by completion month,
-- bookings and attainment are in rpt_sales_rep_month (a target is per rep and month, not per category).
-- Built from fct_orders left-joined to fct_order_items, so every order (also one without lines) is in
-- exactly one row per product category it bought: money and units add up to fct_orders.
-- Grain: one row per month, rep_id, region, product_category (null rep_id = order without a rep;
-- null product_category = product missing from the catalogue, or an order without lines).
-- Reps are shown by rep_id and rep_name_masked (dim_sales_reps; the plaintext name is never published).
with

orders as (

    select
        order_id,
        order_month,
        rep_id
    from {{ ref('fct_orders') }}

),

lines as (

    select
        order_id,
        product_id,
        quantity,
        net_units,
        gross_amount,
        discount_amount,
        net_amount,
        net_revenue
    from {{ ref('fct_order_items') }}

),

products as (

    select
        product_id,
        category
    from {{ ref('dim_products') }}

),

reps as (

    select
        rep_id,
        rep_name_masked,
        region
    from {{ ref('dim_sales_reps') }}

),

plan as (

    select
        rep_id,
        period_start,
        region
    from {{ ref('fct_sales_targets') }}

),

order_lines as (

    select
        orders.order_month as month,
        orders.rep_id,
        coalesce(plan.region, reps.region) as region,
        products.category as product_category,
        lines.order_id is not null as has_line,
        coalesce(lines.quantity, 0) as units,
        coalesce(lines.net_units, 0) as net_units,
        coalesce(lines.gross_amount, 0) as gross_amount,
        coalesce(lines.discount_amount, 0) as discount_amount,
        coalesce(lines.net_amount, 0) as net_amount,
        coalesce(lines.net_revenue, 0) as net_revenue
    from orders
    left join lines
        on orders.order_id = lines.order_id
    left join products
        on lines.product_id = products.product_id
    left join reps
        on orders.rep_id = reps.rep_id
    left join plan
        on orders.rep_id = plan.rep_id
        and orders.order_month = plan.period_start

),

monthly as (

    select
        month,
        rep_id,
        region,
        product_category,
        sum(case when has_line then 1 else 0 end) as order_lines,
        sum(units) as units,
        sum(net_units) as net_units,
        sum(gross_amount) as gross_amount,
        sum(discount_amount) as discount_amount,
        sum(net_amount) as net_amount,
        sum(net_revenue) as net_revenue
    from order_lines
    group by month, rep_id, region, product_category

)

select
    cast(monthly.month as date) as month,
    cast({{ sales_period_label('monthly.month') }} as {{ dbt.type_string() }}) as period,
    cast(monthly.rep_id as {{ dbt.type_string() }}) as rep_id,
    cast(reps.rep_name_masked as {{ dbt.type_string() }}) as rep_name_masked,
    cast(monthly.region as {{ dbt.type_string() }}) as region,
    cast(monthly.product_category as {{ dbt.type_string() }}) as product_category,
    cast(monthly.order_lines as bigint) as order_lines,
    cast(monthly.units as bigint) as units,
    cast(monthly.net_units as bigint) as net_units,
    cast(monthly.gross_amount as {{ type_money() }}) as gross_amount,
    cast(monthly.discount_amount as {{ type_money() }}) as discount_amount,
    cast(monthly.net_amount as {{ type_money() }}) as net_amount,
    cast(monthly.net_revenue as {{ type_money() }}) as net_revenue
from monthly
left join reps
    on monthly.rep_id = reps.rep_id
