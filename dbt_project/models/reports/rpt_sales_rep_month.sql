-- Monthly sales per rep with the rep's plan: the rep-month grain of the sales report (rpt_sales holds the
-- product-category grain, additive measures only). Every column sums over reps to a month total except the
-- ratios (attainment_revenue_pct, win_rate: recompute them from their sums). Orders are counted by the
-- month they were placed; revenue (completed net) by the month they were completed; bookings, won and lost
-- opportunities by the month they closed (the definitions of fct_sales_targets, used here unchanged).
-- Reps are shown by rep_id and rep_name_masked (dim_sales_reps; the plaintext name is never published).
-- Grain: one row per month, rep_id (null rep_id = orders without a rep, e.g. web/app orders).
with

plan as (

    select
        rep_id,
        period_start as month,
        region,
        is_future_period,
        target_amount,
        completed_orders,
        revenue_amount,
        attainment_revenue_pct,
        bookings_amount,
        opportunities_won,
        opportunities_lost,
        win_rate
    from {{ ref('fct_sales_targets') }}

),

placed as (

    select
        order_month as month,
        rep_id,
        count(*) as orders
    from {{ ref('fct_orders') }}
    group by order_month, rep_id

),

no_rep_revenue as (

    select
        completed_month as month,
        count(*) as completed_orders,
        sum(net_revenue) as revenue_amount
    from {{ ref('fct_orders') }}
    where is_completed and rep_id is null
    group by completed_month

),

as_of as (

    select {{ sales_month_start('as_of_date') }} as as_of_month from {{ ref('int_customer_as_of') }}

),

rep_months as (

    select month, rep_id from plan
    union
    select month, rep_id from placed
    union
    select month, cast(null as {{ dbt.type_string() }}) as rep_id from no_rep_revenue

),

reps as (

    select
        rep_id,
        rep_name_masked,
        region
    from {{ ref('dim_sales_reps') }}

)

select
    cast(rep_months.month as date) as month,
    cast({{ sales_period_label('rep_months.month') }} as {{ dbt.type_string() }}) as period,
    cast(rep_months.rep_id as {{ dbt.type_string() }}) as rep_id,
    cast(reps.rep_name_masked as {{ dbt.type_string() }}) as rep_name_masked,
    cast(coalesce(plan.region, reps.region) as {{ dbt.type_string() }}) as region,
    cast(rep_months.month > as_of.as_of_month as boolean) as is_future_period,
    cast(coalesce(placed.orders, 0) as bigint) as orders,
    cast(plan.target_amount as {{ type_money() }}) as target_amount,
    cast(
        case
            when rep_months.month > as_of.as_of_month then null
            else coalesce(plan.completed_orders, no_rep_revenue.completed_orders, 0)
        end as bigint
    ) as completed_orders,
    cast(
        case
            when rep_months.month > as_of.as_of_month then null
            else coalesce(plan.revenue_amount, no_rep_revenue.revenue_amount, 0)
        end as {{ type_money() }}
    ) as revenue_amount,
    cast(plan.attainment_revenue_pct as decimal(18, 2)) as attainment_revenue_pct,
    cast(
        case when rep_months.month > as_of.as_of_month then null else coalesce(plan.bookings_amount, 0) end
        as {{ type_money() }}
    ) as bookings_amount,
    cast(
        case when rep_months.month > as_of.as_of_month then null else coalesce(plan.opportunities_won, 0) end
        as bigint
    ) as opportunities_won,
    cast(
        case when rep_months.month > as_of.as_of_month then null else coalesce(plan.opportunities_lost, 0) end
        as bigint
    ) as opportunities_lost,
    cast(plan.win_rate as decimal(18, 4)) as win_rate
from rep_months
cross join as_of
left join plan
    on rep_months.rep_id = plan.rep_id
    and rep_months.month = plan.month
left join placed
    on rep_months.rep_id is not distinct from placed.rep_id
    and rep_months.month = placed.month
left join no_rep_revenue
    on rep_months.rep_id is null
    and rep_months.month = no_rep_revenue.month
left join reps
    on rep_months.rep_id = reps.rep_id
