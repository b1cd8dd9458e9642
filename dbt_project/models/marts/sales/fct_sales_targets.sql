-- Sales plan vs actual per rep and month: the targets snapshot joined with the two named measures of the
-- same rep and month: revenue (net amount of completed orders by COMPLETION month, fct_orders.completed_month)
-- and bookings (amount of opportunities won, by the month they closed, fct_opportunities.closed_month).
-- Attainment is revenue over the revenue target (attainment_revenue_pct). A rep-month with actuals but no
-- target is kept (has_target = false), so revenue adds up to fct_orders for completed orders with a rep.
-- Months after the month of as_of cannot be known yet: their actuals, attainment and win rate are NULL.
-- Grain: one row per rep_id, period (YYYY-MM).
with

targets as (

    select
        rep_id,
        {{ sales_period_start('period') }} as period_start,
        region,
        target_amount,
        target_units,
        budget
    from {{ ref('stg_crm__sales_targets') }}

),

order_actuals as (

    select
        rep_id,
        completed_month as period_start,
        count(*) as completed_orders,
        sum(net_revenue) as revenue_amount,
        sum(net_units) as actual_units
    from {{ ref('fct_orders') }}
    where is_completed and rep_id is not null
    group by rep_id, completed_month

),

opportunity_actuals as (

    select
        rep_id,
        closed_month as period_start,
        sum(case when status = 'won' then 1 else 0 end) as opportunities_won,
        sum(case when status = 'lost' then 1 else 0 end) as opportunities_lost,
        sum(case when status = 'won' then amount else 0 end) as bookings_amount
    from {{ ref('fct_opportunities') }}
    where is_closed and rep_id is not null
    group by rep_id, closed_month

),

rep_months as (

    select rep_id, period_start from targets
    union
    select rep_id, period_start from order_actuals
    union
    select rep_id, period_start from opportunity_actuals

),

as_of as (

    select {{ sales_month_start('as_of_date') }} as as_of_month from {{ ref('int_customer_as_of') }}

),

reps as (

    select
        rep_id,
        region
    from {{ ref('dim_sales_reps') }}

),

combined as (

    select
        rep_months.rep_id,
        rep_months.period_start,
        coalesce(targets.region, reps.region) as region,
        rep_months.period_start > as_of.as_of_month as is_future_period,
        targets.rep_id is not null as has_target,
        targets.target_amount,
        targets.target_units,
        targets.budget,
        coalesce(order_actuals.completed_orders, 0) as completed_orders,
        coalesce(order_actuals.revenue_amount, 0) as revenue_amount,
        coalesce(order_actuals.actual_units, 0) as actual_units,
        coalesce(opportunity_actuals.opportunities_won, 0) as opportunities_won,
        coalesce(opportunity_actuals.opportunities_lost, 0) as opportunities_lost,
        coalesce(opportunity_actuals.bookings_amount, 0) as bookings_amount
    from rep_months
    left join targets
        on rep_months.rep_id = targets.rep_id and rep_months.period_start = targets.period_start
    left join order_actuals
        on rep_months.rep_id = order_actuals.rep_id and rep_months.period_start = order_actuals.period_start
    left join opportunity_actuals
        on rep_months.rep_id = opportunity_actuals.rep_id
        and rep_months.period_start = opportunity_actuals.period_start
    left join reps
        on rep_months.rep_id = reps.rep_id
    cross join as_of

),

known as (

    -- a future month's actuals cannot be known yet: NULL, never 0
    select
        rep_id,
        period_start,
        region,
        is_future_period,
        has_target,
        target_amount,
        target_units,
        budget,
        case when not is_future_period then completed_orders end as completed_orders,
        case when not is_future_period then revenue_amount end as revenue_amount,
        case when not is_future_period then actual_units end as actual_units,
        case when not is_future_period then opportunities_won end as opportunities_won,
        case when not is_future_period then opportunities_lost end as opportunities_lost,
        case when not is_future_period then bookings_amount end as bookings_amount
    from combined

)

select
    cast(rep_id as {{ dbt.type_string() }}) as rep_id,
    cast({{ sales_period_label('period_start') }} as {{ dbt.type_string() }}) as period,
    cast(period_start as date) as period_start,
    cast(region as {{ dbt.type_string() }}) as region,
    cast(is_future_period as boolean) as is_future_period,
    cast(has_target as boolean) as has_target,
    cast(target_amount as {{ type_money() }}) as target_amount,
    cast(target_units as integer) as target_units,
    cast(budget as {{ type_money() }}) as budget,
    cast(completed_orders as bigint) as completed_orders,
    cast(revenue_amount as {{ type_money() }}) as revenue_amount,
    cast(actual_units as bigint) as actual_units,
    {{ sales_ratio('100 * revenue_amount', 'target_amount', 2) }} as attainment_revenue_pct,
    {{ sales_ratio('100 * actual_units', 'target_units', 2) }} as units_attainment_pct,
    cast(opportunities_won as bigint) as opportunities_won,
    cast(opportunities_lost as bigint) as opportunities_lost,
    cast(bookings_amount as {{ type_money() }}) as bookings_amount,
    {{ sales_ratio('opportunities_won', 'opportunities_won + opportunities_lost', 4) }} as win_rate
from known
