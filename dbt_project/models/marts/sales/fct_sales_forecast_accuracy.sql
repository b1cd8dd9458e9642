-- Accuracy of the sales forecast once a month has closed (its last day is before as_of): the forecast of
-- the month made on the LAST NIGHT BEFORE THE MONTH STARTED (the newest as_of_date < the month's first day
-- in fct_sales_forecast_history that forecast the month), against the month's actual bookings now.
-- That forecast saw none of the month's results, so it is the weighted pipeline expected to close in the
-- month (its bookings to date are 0). One reference night per month for every rep (a rep without a row
-- that night, e.g. hired later, has no forecast).
-- actual_bookings_amount = the BOOKINGS measure (amount of opportunities won with closed_month = the month,
-- fct_opportunities; as fct_sales_targets.bookings_amount, plus opportunities without a rep) as known
-- tonight: a win recorded late for a closed month changes it.
-- error = forecast - actual (positive = over-forecast); absolute percent error = 100 * |error| / actual.
-- Forecast columns are NULL when no forecast of the month was kept (nights before the history started, or
-- the last night before the month was more than the horizon earlier); the percent error also when the
-- actual is 0.
-- Rows: the closed rep-months with a reference forecast or with bookings.
-- Grain: one row per rep_id, month.
with

as_of as (

    select as_of_date from {{ ref('int_customer_as_of') }}

),

history as (

    select
        as_of_date,
        rep_id,
        forecast_month,
        months_ahead,
        open_pipeline_amount,
        forecast_bookings_amount
    from {{ ref('fct_sales_forecast_history') }}

),

reference_nights as (

    select
        forecast_month,
        max(as_of_date) as forecast_as_of_date
    from history
    where as_of_date < forecast_month
    group by forecast_month

),

reference_forecasts as (

    select
        history.rep_id,
        history.forecast_month as month,
        history.as_of_date as forecast_as_of_date,
        history.months_ahead,
        history.open_pipeline_amount,
        history.forecast_bookings_amount
    from history
    inner join reference_nights
        on history.forecast_month = reference_nights.forecast_month
        and history.as_of_date = reference_nights.forecast_as_of_date

),

actuals as (

    select
        rep_id,
        closed_month as month,
        count(*) as opportunities_won,
        sum(amount) as actual_bookings_amount
    from {{ ref('fct_opportunities') }}
    where status = 'won'
    group by rep_id, closed_month

),

rep_months as (

    select rep_id, month from reference_forecasts
    union
    select rep_id, month from actuals

),

closed_rep_months as (

    select
        rep_months.rep_id,
        rep_months.month
    from rep_months
    cross join as_of
    where cast({{ dbt.dateadd('month', 1, 'rep_months.month') }} as date) <= as_of.as_of_date

),

compared as (

    select
        closed_rep_months.rep_id,
        closed_rep_months.month,
        reference_forecasts.forecast_as_of_date,
        reference_forecasts.months_ahead,
        reference_forecasts.open_pipeline_amount,
        reference_forecasts.forecast_bookings_amount,
        coalesce(actuals.opportunities_won, 0) as opportunities_won,
        coalesce(actuals.actual_bookings_amount, 0) as actual_bookings_amount
    from closed_rep_months
    left join reference_forecasts
        on closed_rep_months.rep_id is not distinct from reference_forecasts.rep_id
        and closed_rep_months.month = reference_forecasts.month
    left join actuals
        on closed_rep_months.rep_id is not distinct from actuals.rep_id
        and closed_rep_months.month = actuals.month

)

select
    cast(month as date) as month,
    cast({{ sales_period_label('month') }} as {{ dbt.type_string() }}) as period,
    cast(rep_id as {{ dbt.type_string() }}) as rep_id,
    cast(forecast_as_of_date is not null as boolean) as has_forecast,
    cast(forecast_as_of_date as date) as forecast_as_of_date,
    cast({{ dbt.datediff('forecast_as_of_date', 'month', 'day') }} as integer) as forecast_lead_days,
    cast(months_ahead as integer) as forecast_months_ahead,
    cast(open_pipeline_amount as {{ type_money() }}) as forecast_open_pipeline_amount,
    cast(forecast_bookings_amount as {{ type_money() }}) as forecast_bookings_amount,
    cast(opportunities_won as bigint) as opportunities_won,
    cast(actual_bookings_amount as {{ type_money() }}) as actual_bookings_amount,
    cast(forecast_bookings_amount - actual_bookings_amount as {{ type_money() }}) as forecast_error_amount,
    cast(abs(forecast_bookings_amount - actual_bookings_amount) as {{ type_money() }}) as absolute_error_amount,
    {{ sales_ratio('100 * abs(forecast_bookings_amount - actual_bookings_amount)', 'actual_bookings_amount', 2) }}
        as absolute_percent_error_pct
from compared
