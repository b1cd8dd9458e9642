-- Sales plan vs actual per rep and month: the targets snapshot joined with the actuals of the same
-- rep and month (completed orders by order month; opportunities closed in the month). A rep-month with
-- actuals but no target is kept (has_target = false), so actuals add up to fct_orders for orders with a rep.
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
        order_month as period_start,
        count(*) as completed_orders,
        sum(net_revenue) as actual_net_revenue,
        sum(net_units) as actual_units
    from {{ ref('fct_orders') }}
    where is_completed and rep_id is not null
    group by rep_id, order_month

),

opportunity_actuals as (

    select
        rep_id,
        closed_month as period_start,
        sum(case when status = 'won' then 1 else 0 end) as opportunities_won,
        sum(case when status = 'lost' then 1 else 0 end) as opportunities_lost,
        sum(case when status = 'won' then amount else 0 end) as won_amount
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
        targets.rep_id is not null as has_target,
        targets.target_amount,
        targets.target_units,
        targets.budget,
        coalesce(order_actuals.completed_orders, 0) as completed_orders,
        coalesce(order_actuals.actual_net_revenue, 0) as actual_net_revenue,
        coalesce(order_actuals.actual_units, 0) as actual_units,
        coalesce(opportunity_actuals.opportunities_won, 0) as opportunities_won,
        coalesce(opportunity_actuals.opportunities_lost, 0) as opportunities_lost,
        coalesce(opportunity_actuals.won_amount, 0) as won_amount
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

)

select
    cast(rep_id as {{ dbt.type_string() }}) as rep_id,
    cast({{ sales_period_label('period_start') }} as {{ dbt.type_string() }}) as period,
    cast(period_start as date) as period_start,
    cast(region as {{ dbt.type_string() }}) as region,
    cast(has_target as boolean) as has_target,
    cast(target_amount as {{ type_money() }}) as target_amount,
    cast(target_units as integer) as target_units,
    cast(budget as {{ type_money() }}) as budget,
    cast(completed_orders as bigint) as completed_orders,
    cast(actual_net_revenue as {{ type_money() }}) as actual_net_revenue,
    cast(actual_units as bigint) as actual_units,
    {{ sales_ratio('100 * actual_net_revenue', 'target_amount', 2) }} as attainment_pct,
    {{ sales_ratio('100 * actual_units', 'target_units', 2) }} as units_attainment_pct,
    cast(opportunities_won as bigint) as opportunities_won,
    cast(opportunities_lost as bigint) as opportunities_lost,
    cast(won_amount as {{ type_money() }}) as won_amount,
    {{ sales_ratio('opportunities_won', 'opportunities_won + opportunities_lost', 4) }} as win_rate
from combined
