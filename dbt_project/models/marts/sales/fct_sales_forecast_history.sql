{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['as_of_date'],
        on_schema_change='append_new_columns',
        full_refresh=false
    )
}}
-- Every night's sales forecast as it was made that night: fct_sales_forecast appended per as_of. The
-- warehouse is rebuilt nightly and a forecast of the past cannot be recomputed (the open pipeline of that
-- night is gone), so this table is the only record of it: fct_sales_forecast_accuracy compares it with the
-- bookings once a month has closed.
-- Incremental, delete+insert on as_of_date: a night replaces its own rows (re-running the same night is
-- idempotent: same inputs, same rows), and only the newest night is written: a run with an as_of OLDER than
-- the newest stored night writes nothing (it would recompute that night from later data; the forecast made
-- that night is kept).
-- full_refresh=false: `dbt build --full-refresh` (crm-warehouse run --full-refresh, or the automatic one
-- after `crm-warehouse reload`) does NOT rebuild this table, it keeps every stored night and adds tonight's;
-- to really drop the history, drop the table by hand (marts.fct_sales_forecast_history in the work file).
-- A column added to fct_sales_forecast is appended (on_schema_change=append_new_columns): NULL for older nights.
-- Grain: one row per as_of_date, rep_id, forecast_month.
{%- set columns = [
    'as_of_date', 'rep_id', 'forecast_month', 'period', 'months_ahead', 'open_opportunities',
    'open_pipeline_amount', 'weighted_pipeline_amount', 'bookings_to_date_amount', 'forecast_bookings_amount',
    'past_due_open_opportunities', 'past_due_pipeline_amount', 'unscheduled_open_opportunities',
    'unscheduled_pipeline_amount', 'revenue_to_date_amount', 'elapsed_days', 'days_in_month',
    'revenue_run_rate_projection_amount'
] %}
with

tonight as (

    select {{ columns | join(', ') }}
    from {{ ref('fct_sales_forecast') }}

)

select {{ columns | join(', ') }}
from tonight
{%- if is_incremental() %}
where as_of_date >= (
    select coalesce(
        max(stored.as_of_date),
        {{ dbt.cast(sql_string_literal('1900-01-01'), api.Column.translate_type('date')) }}
    )
    from {{ this }} as stored
)
{%- endif %}
