-- The sales forecast made tonight (as_of = int_customer_as_of): per rep and month, from the month of as_of
-- through the next forecast_horizon_months - 1 months.
--   weighted pipeline = sum of fct_opportunities.expected_amount (round(amount * stage probability, 2);
--     probability: seed opportunity_stage_probabilities, the extract carries none) over the OPEN
--     opportunities (status pipeline, as of as_of) whose expected close date (close_date) falls in the month;
--   bookings to date = the BOOKINGS measure so far (opportunities won with closed_month = the month; closed_at
--     is never after as_of, so 0 for a later month);
--   forecast_bookings_amount = bookings to date + weighted pipeline.
-- Open opportunities outside the months (expected close before the month of as_of = past due; after the
-- horizon or without a date = unscheduled) are not forecast: they are counted on the as_of month's row.
-- Run-rate (as_of month only): REVENUE so far in the month (orders completed in it, fct_orders.completed_month,
-- the revenue_amount definition of fct_sales_targets) / elapsed days (as_of is the end of its day) * days in
-- the month, rounded half up to the cent in exact integer arithmetic on cents (floor((2 * cents * days +
-- elapsed) / (2 * elapsed)): the quotient of two integers, exact in a double). Orders without a rep are not
-- projected (the null-rep row has none).
-- Rows: every rep of dim_sales_reps and every rep_id of fct_opportunities (null rep_id = opportunities
-- without a rep), times the months: a rep without pipeline has a 0 forecast, not a missing one.
-- fct_sales_forecast_history keeps this table's rows of every night.
-- Grain: one row per rep_id, forecast_month.
{%- set forecast_horizon_months = 6 %}
with

as_of as (

    select
        as_of_date,
        {{ sales_month_start('as_of_date') }} as as_of_month
    from {{ ref('int_customer_as_of') }}

),

months as (

    {% for months_ahead in range(forecast_horizon_months) -%}
    select
        {{ months_ahead }} as months_ahead,
        cast({{ dbt.dateadd('month', months_ahead, 'as_of_month') }} as date) as forecast_month
    from as_of
    {% if not loop.last %}union all
    {% endif %}
    {%- endfor %}

),

horizon as (

    select
        min(forecast_month) as first_month,
        max(forecast_month) as last_month
    from months

),

opportunities as (

    select
        rep_id,
        status,
        amount,
        expected_amount,
        close_date,
        {{ sales_month_start('close_date') }} as close_month,
        closed_month
    from {{ ref('fct_opportunities') }}

),

reps as (

    select rep_id from {{ ref('dim_sales_reps') }}
    union
    select rep_id from opportunities

),

open_pipeline as (

    select
        opportunities.rep_id,
        opportunities.amount,
        opportunities.expected_amount,
        case
            when opportunities.close_month is null or opportunities.close_month > horizon.last_month
                then 'unscheduled'
            when opportunities.close_month < horizon.first_month then 'past_due'
            else 'forecast'
        end as bucket,
        opportunities.close_month
    from opportunities
    cross join horizon
    where opportunities.status = 'pipeline'

),

pipeline_by_month as (

    select
        rep_id,
        close_month as forecast_month,
        count(*) as open_opportunities,
        sum(amount) as open_pipeline_amount,
        sum(expected_amount) as weighted_pipeline_amount
    from open_pipeline
    where bucket = 'forecast'
    group by rep_id, close_month

),

off_forecast as (

    select
        rep_id,
        sum(case when bucket = 'past_due' then 1 else 0 end) as past_due_open_opportunities,
        sum(case when bucket = 'past_due' then amount else 0 end) as past_due_pipeline_amount,
        sum(case when bucket = 'unscheduled' then 1 else 0 end) as unscheduled_open_opportunities,
        sum(case when bucket = 'unscheduled' then amount else 0 end) as unscheduled_pipeline_amount
    from open_pipeline
    where bucket <> 'forecast'
    group by rep_id

),

bookings_to_date as (

    select
        rep_id,
        closed_month as forecast_month,
        sum(amount) as bookings_to_date_amount
    from opportunities
    where status = 'won'
    group by rep_id, closed_month

),

revenue_to_date as (

    select
        orders.rep_id,
        sum(orders.net_revenue) as revenue_to_date_amount
    from {{ ref('fct_orders') }} as orders
    cross join as_of
    where orders.is_completed
        and orders.rep_id is not null
        and orders.completed_month = as_of.as_of_month
    group by orders.rep_id

),

run_rate_days as (

    select
        cast({{ dbt.datediff('as_of_month', 'as_of_date', 'day') }} + 1 as integer) as elapsed_days,
        cast({{ dbt.datediff('as_of_month', dbt.dateadd('month', 1, 'as_of_month'), 'day') }} as integer)
            as days_in_month
    from as_of

),

grid as (

    select
        reps.rep_id,
        months.months_ahead,
        months.forecast_month
    from reps
    cross join months

),

combined as (

    select
        as_of.as_of_date,
        grid.rep_id,
        grid.forecast_month,
        grid.months_ahead,
        coalesce(pipeline_by_month.open_opportunities, 0) as open_opportunities,
        coalesce(pipeline_by_month.open_pipeline_amount, 0) as open_pipeline_amount,
        coalesce(pipeline_by_month.weighted_pipeline_amount, 0) as weighted_pipeline_amount,
        coalesce(bookings_to_date.bookings_to_date_amount, 0) as bookings_to_date_amount,
        case when grid.months_ahead = 0 then coalesce(off_forecast.past_due_open_opportunities, 0) end
            as past_due_open_opportunities,
        case when grid.months_ahead = 0 then coalesce(off_forecast.past_due_pipeline_amount, 0) end
            as past_due_pipeline_amount,
        case when grid.months_ahead = 0 then coalesce(off_forecast.unscheduled_open_opportunities, 0) end
            as unscheduled_open_opportunities,
        case when grid.months_ahead = 0 then coalesce(off_forecast.unscheduled_pipeline_amount, 0) end
            as unscheduled_pipeline_amount,
        case
            when grid.months_ahead = 0 and grid.rep_id is not null
                then coalesce(revenue_to_date.revenue_to_date_amount, 0)
        end as revenue_to_date_amount,
        case
            when grid.months_ahead = 0 and grid.rep_id is not null
                then cast(coalesce(revenue_to_date.revenue_to_date_amount, 0) * 100 as bigint)
        end as revenue_to_date_cents,
        case when grid.months_ahead = 0 then run_rate_days.elapsed_days end as elapsed_days,
        case when grid.months_ahead = 0 then run_rate_days.days_in_month end as days_in_month
    from grid
    cross join as_of
    cross join run_rate_days
    left join pipeline_by_month
        on grid.rep_id is not distinct from pipeline_by_month.rep_id
        and grid.forecast_month = pipeline_by_month.forecast_month
    left join bookings_to_date
        on grid.rep_id is not distinct from bookings_to_date.rep_id
        and grid.forecast_month = bookings_to_date.forecast_month
    left join off_forecast
        on grid.rep_id is not distinct from off_forecast.rep_id
    left join revenue_to_date
        on grid.rep_id = revenue_to_date.rep_id

)

select
    cast(as_of_date as date) as as_of_date,
    cast(rep_id as {{ dbt.type_string() }}) as rep_id,
    cast(forecast_month as date) as forecast_month,
    cast({{ sales_period_label('forecast_month') }} as {{ dbt.type_string() }}) as period,
    cast(months_ahead as integer) as months_ahead,
    cast(open_opportunities as bigint) as open_opportunities,
    cast(open_pipeline_amount as {{ type_money() }}) as open_pipeline_amount,
    cast(weighted_pipeline_amount as {{ type_money() }}) as weighted_pipeline_amount,
    cast(bookings_to_date_amount as {{ type_money() }}) as bookings_to_date_amount,
    cast(bookings_to_date_amount + weighted_pipeline_amount as {{ type_money() }}) as forecast_bookings_amount,
    cast(past_due_open_opportunities as bigint) as past_due_open_opportunities,
    cast(past_due_pipeline_amount as {{ type_money() }}) as past_due_pipeline_amount,
    cast(unscheduled_open_opportunities as bigint) as unscheduled_open_opportunities,
    cast(unscheduled_pipeline_amount as {{ type_money() }}) as unscheduled_pipeline_amount,
    cast(revenue_to_date_amount as {{ type_money() }}) as revenue_to_date_amount,
    cast(elapsed_days as integer) as elapsed_days,
    cast(days_in_month as integer) as days_in_month,
    cast(
        cast(floor((2 * revenue_to_date_cents * days_in_month + elapsed_days) / (2 * elapsed_days)) as bigint)
        * cast(0.01 as decimal(3, 2))
        as {{ type_money() }}
    ) as revenue_run_rate_projection_amount
from combined
