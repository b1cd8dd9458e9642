-- Orders with their line totals and revenue, source customer id plus the resolved master id.
-- net_revenue counts completed orders only (cancelled and refunded orders bring no revenue).
-- completed_at / completed_month: when the order became completed (int_order_completions: the updated_at
-- of the version in which status became completed; the contract has no completion timestamp), completed
-- orders only: the month revenue is recognised in (fct_sales_targets.revenue_amount).
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

completions as (

    select
        order_id,
        completed_version_at
    from {{ ref('int_order_completions') }}

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
    cast(
        case
            when orders.status = 'completed' then coalesce(completions.completed_version_at, orders.updated_at)
        end as {{ dbt.type_timestamp() }}
    ) as completed_at,
    cast(
        case
            when orders.status = 'completed'
                then {{ sales_month_start('coalesce(completions.completed_version_at, orders.updated_at)') }}
        end as date
    ) as completed_month,
    cast(orders.updated_at as {{ dbt.type_timestamp() }}) as updated_at
from orders
left join completions
    on orders.order_id = completions.order_id
left join id_map
    on orders.customer_id = id_map.customer_id
