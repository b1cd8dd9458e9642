{{ config(schema='ml_inputs', materialized='table') }}
-- Churn-risk frame: the features of every active customer at a cut-off, and whether they churned within the
-- horizon after it. Grain: one row per master customer (marts.dim_customers) x cut_off_date.
--
-- Cut-offs: the end of each of the last `training_months` months whose label is known (the month
-- `horizon_months` later is complete on as_of), and as_of itself (the row the model scores; label NULL).
-- A customer is in a cut-off when it is not churned there (a churned customer cannot churn again) and its
-- churn clock has started (a row of int_customer_churn_by_month, whose rule decides churn here too).
--
-- Label (churned_within_horizon, 0/1; NULL on the as_of rows): active at the cut-off month's end and
-- churned at the end of the month `horizon_months` later, under the warehouse's one churn definition
-- (intermediate.int_customer_churn_by_month: no completed order or behaviour event for
-- customer_churn_days() days). Labelled months must be churn-measurable there (is_churn_measurable).
--
-- Features (orchestration/ml_assets/churn.py CHURN_FEATURES), each measured on or before the cut-off:
--   days_since_last_engagement  days from the last engagement (or the first created date) to the cut-off
--   tenure_days                 days from the first created date to the cut-off
--   orders_365d, revenue_365d   completed orders and their net revenue in the 365 days ending on it
--   events_90d, events_91_365d  behaviour events (not deleted) in the 90 days ending on it, and in the 275
--                               days before those (their ratio is the activity trend)
--   tickets_180d                service tickets opened in the 180 days ending on it
-- Orders count with their status at as_of (an order cancelled after a cut-off is not counted there).
{%- set horizon_months = 3 %}
{%- set training_months = 12 %}
with

settings as (

    select
        as_of_date,
        {{ customer_to_date(dbt.date_trunc('month', 'as_of_date')) }} as as_of_month
    from {{ ref('ml_input_settings') }}

),

months as (

    select
        master_customer_id,
        month_start,
        period_end,
        last_engagement_date,
        is_churned,
        is_churn_measurable
    from {{ ref('int_customer_churn_by_month') }}

),

labelled as (

    select
        cut.master_customer_id,
        cut.period_end as cut_off_date,
        cut.last_engagement_date,
        case when later.is_churned then 1 else 0 end as churned_within_horizon
    from months as cut
    inner join months as later
        on cut.master_customer_id = later.master_customer_id
        and later.month_start = {{ customer_to_date(dbt.dateadd('month', horizon_months, 'cut.month_start')) }}
    cross join settings
    where not cut.is_churned
        and cut.is_churn_measurable
        and later.month_start < settings.as_of_month
        and cut.month_start >= {{ customer_to_date(dbt.dateadd('month', -(horizon_months + training_months),
                                                               'settings.as_of_month')) }}

),

scored as (

    select
        months.master_customer_id,
        months.period_end as cut_off_date,
        months.last_engagement_date,
        cast(null as integer) as churned_within_horizon
    from months
    cross join settings
    where months.month_start = settings.as_of_month and not months.is_churned

),

cut_offs as (

    select * from labelled
    union all
    select * from scored

),

customers as (

    select
        master_customer_id,
        {{ customer_to_date('first_created_at') }} as created_date
    from {{ ref('dim_customers') }}

),

id_map as (

    select customer_id, master_customer_id from {{ ref('customer_id_map') }}

),

order_days as (

    select
        master_customer_id,
        {{ customer_to_date('order_date') }} as on_date,
        count(*) as orders,
        sum(net_revenue) as revenue
    from {{ ref('fct_orders') }}
    where is_completed
    group by master_customer_id, {{ customer_to_date('order_date') }}

),

event_days as (

    select
        id_map.master_customer_id,
        {{ customer_to_date('events.occurred_at') }} as on_date,
        count(*) as events
    from {{ ref('int_customer_behavior_events') }} as events
    inner join id_map on events.customer_id = id_map.customer_id
    where events.is_deleted = false
    group by id_map.master_customer_id, {{ customer_to_date('events.occurred_at') }}

),

ticket_days as (

    select
        master_customer_id,
        {{ customer_to_date('opened_at') }} as on_date,
        count(*) as tickets
    from {{ ref('fct_tickets') }}
    group by master_customer_id, {{ customer_to_date('opened_at') }}

),

order_stats as (

    select
        cut_offs.master_customer_id,
        cut_offs.cut_off_date,
        sum(order_days.orders) as orders_365d,
        sum(order_days.revenue) as revenue_365d
    from cut_offs
    inner join order_days
        on cut_offs.master_customer_id = order_days.master_customer_id
        and order_days.on_date <= cut_offs.cut_off_date
        and order_days.on_date > {{ customer_date_add_days(-365, 'cut_offs.cut_off_date') }}
    group by cut_offs.master_customer_id, cut_offs.cut_off_date

),

event_stats as (

    select
        cut_offs.master_customer_id,
        cut_offs.cut_off_date,
        sum(case when event_days.on_date > {{ customer_date_add_days(-90, 'cut_offs.cut_off_date') }}
            then event_days.events else 0 end) as events_90d,
        sum(case when event_days.on_date <= {{ customer_date_add_days(-90, 'cut_offs.cut_off_date') }}
            then event_days.events else 0 end) as events_91_365d
    from cut_offs
    inner join event_days
        on cut_offs.master_customer_id = event_days.master_customer_id
        and event_days.on_date <= cut_offs.cut_off_date
        and event_days.on_date > {{ customer_date_add_days(-365, 'cut_offs.cut_off_date') }}
    group by cut_offs.master_customer_id, cut_offs.cut_off_date

),

ticket_stats as (

    select
        cut_offs.master_customer_id,
        cut_offs.cut_off_date,
        sum(ticket_days.tickets) as tickets_180d
    from cut_offs
    inner join ticket_days
        on cut_offs.master_customer_id = ticket_days.master_customer_id
        and ticket_days.on_date <= cut_offs.cut_off_date
        and ticket_days.on_date > {{ customer_date_add_days(-180, 'cut_offs.cut_off_date') }}
    group by cut_offs.master_customer_id, cut_offs.cut_off_date

)

select
    cut_offs.master_customer_id as customer_id,
    cut_offs.cut_off_date,
    cast(greatest({{ dbt.datediff(customer_greatest_date('customers.created_date', 'cut_offs.last_engagement_date'),
                                  'cut_offs.cut_off_date', 'day') }}, 0) as integer) as days_since_last_engagement,
    cast(greatest({{ dbt.datediff('customers.created_date', 'cut_offs.cut_off_date', 'day') }}, 0) as integer)
        as tenure_days,
    cast(coalesce(order_stats.orders_365d, 0) as integer) as orders_365d,
    cast(coalesce(order_stats.revenue_365d, 0) as decimal(18, 2)) as revenue_365d,
    cast(coalesce(event_stats.events_90d, 0) as integer) as events_90d,
    cast(coalesce(event_stats.events_91_365d, 0) as integer) as events_91_365d,
    cast(coalesce(ticket_stats.tickets_180d, 0) as integer) as tickets_180d,
    cut_offs.churned_within_horizon
from cut_offs
inner join customers on cut_offs.master_customer_id = customers.master_customer_id
left join order_stats
    on cut_offs.master_customer_id = order_stats.master_customer_id
    and cut_offs.cut_off_date = order_stats.cut_off_date
left join event_stats
    on cut_offs.master_customer_id = event_stats.master_customer_id
    and cut_offs.cut_off_date = event_stats.cut_off_date
left join ticket_stats
    on cut_offs.master_customer_id = ticket_stats.master_customer_id
    and cut_offs.cut_off_date = ticket_stats.cut_off_date
