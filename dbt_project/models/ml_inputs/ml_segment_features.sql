{{ config(schema='ml_inputs', materialized='table') }}
-- Segmentation features: one row per master customer (marts.dim_customers), measured at the run's as_of.
-- Grain: one row per master customer (customer_id = master_customer_id of dim_customers).
-- Parameters (ml_input_settings): as_of (the run's logical date); everything strictly before as_of + 1 day
--   counts. rfm_window_days (INTEGER or NULL): the RFM inputs look back this many days; NULL = the full
--   history (crm.yml `ml.rfm_window_days`).
--
-- Behaviour comes from the marts (completed orders and their lines) and from the behaviour events
-- of intermediate.int_customer_behavior_events (purchase events are left out: they duplicate web/app
-- orders), all rolled up to the master id through marts.customer_id_map.
--
-- Rates are per year of the customer's ACTIVE period (first observed day -> last activity) and shrunk
-- toward the population rate with a year of pseudo-exposure (prior_days, Gamma-Poisson): a customer seen
-- for a few weeks gets a rate close to the average instead of a wild 0 or 40 a year, while long histories
-- keep their own rate. The observed period starts at the customer's first record or at the start of the warehouse
-- history (first order or event), whichever is later, so customers older than the history are not diluted.
--
-- Model features (orchestration/ml_assets/inputs.py SEGMENT_FEATURES):
--   revenue_per_year          net revenue of completed orders (shrunk rate)
--   events_per_year           behaviour events: visits, likes, carts, searches, shares (shrunk rate)
--   social_per_year           likes and shares (shrunk rate)
--   discounted_line_ratio     share of purchased lines carrying a discount (3 pseudo-lines at the mean)
--   days_since_last_activity  days since the last order or behaviour event (or sign-up), full history
--   activity_trend            events of the last 120 days / events expected from the customer's own rate
--   observed_tenure_days      tenure bounded by the history (observed_days): days since the customer's first
--                             record or the start of the warehouse history, whichever is later. The true
--                             tenure of customers older than the history (up to years) would spread them
--                             in k-means' standardised space and pull established short-tenure customers
--                             into the new cluster (ARI ratio 0.899 -> 0.916 at scale 0.1); within the
--                             history it equals tenure_days
-- Published in ml.customer_segments beside them, not a model feature (SEGMENT_PUBLISHED):
--   tenure_days               days since the customer's first record was created (marts.dim_customers
--                             first_created_at), full history: a customer older than the warehouse history
--                             keeps its true tenure
-- RFM inputs (ml.rfm), over the RFM window (default the full history), never capped: recency_days (days
--   since the last completed order; NULL when there is none), frequency (completed orders), monetary
--   (their net revenue).
with

params as (

    select
        settings.as_of_date + interval 1 day as cutoff,
        365.0 as prior_days,
        3.0 as prior_lines,
        120 as trend_days,
        settings.rfm_window_days
    from {{ ref('ml_input_settings') }} as settings

),

id_map as (

    select customer_id, master_customer_id from {{ ref('customer_id_map') }}

),

customers as (

    select master_customer_id, first_created_at from {{ ref('dim_customers') }}

),

events as (

    select
        id_map.master_customer_id,
        e.event_type,
        e.occurred_at
    from {{ ref('int_customer_behavior_events') }} as e
    inner join id_map on e.customer_id = id_map.customer_id
    cross join params
    where not e.is_deleted
        and e.event_type <> 'purchase'
        and e.occurred_at < params.cutoff

),

lines as (

    select
        i.master_customer_id,
        i.order_id,
        i.order_date,
        i.discount
    from {{ ref('fct_order_items') }} as i
    cross join params
    where i.order_status = 'completed' and i.order_date < params.cutoff

),

orders as (

    select
        o.master_customer_id,
        o.order_date,
        o.net_revenue  -- DECIMAL: sums stay exact, so parallel aggregation cannot change the last bit
    from {{ ref('fct_orders') }} as o
    cross join params
    where o.is_completed and o.order_date < params.cutoff

),

history as (

    select least(
        (select min(occurred_at) from events),
        (select min(order_date) from orders)
    ) as history_start

),

rfm_stats as (

    select
        orders.master_customer_id,
        count(*) as orders,
        sum(orders.net_revenue) as revenue,
        max(orders.order_date) as last_order_at
    from orders
    cross join params
    where params.rfm_window_days is null
        or orders.order_date >= params.cutoff - to_days(params.rfm_window_days)
    group by orders.master_customer_id

),

order_stats as (

    select
        master_customer_id,
        count(*) as orders,
        sum(net_revenue) as revenue,
        max(order_date) as last_order_at
    from orders
    group by master_customer_id

),

line_stats as (

    select
        master_customer_id,
        count(*) as n_lines,
        count(*) filter (where discount > 0) as discounted_lines
    from lines
    group by master_customer_id

),

event_stats as (

    select
        events.master_customer_id,
        count(*) as events,
        count(*) filter (where events.event_type in ('like', 'share')) as social,
        count(*) filter (where events.occurred_at >= params.cutoff - to_days(params.trend_days)) as events_recent,
        max(events.occurred_at) as last_event_at
    from events
    cross join params
    group by events.master_customer_id

),

per_customer as (

    select
        customers.master_customer_id,
        greatest(customers.first_created_at, coalesce(history.history_start, customers.first_created_at))
            as observed_from,
        greatest(
            customers.first_created_at,
            coalesce(order_stats.last_order_at, customers.first_created_at),
            coalesce(event_stats.last_event_at, customers.first_created_at)
        ) as last_activity_at,
        rfm_stats.last_order_at as rfm_last_order_at,
        coalesce(rfm_stats.orders, 0) as rfm_orders,
        coalesce(rfm_stats.revenue, 0) as rfm_revenue,
        customers.first_created_at,
        coalesce(order_stats.orders, 0) as orders,
        coalesce(order_stats.revenue, 0) as revenue,
        coalesce(line_stats.n_lines, 0) as n_lines,
        coalesce(line_stats.discounted_lines, 0) as discounted_lines,
        coalesce(event_stats.events, 0) as events,
        coalesce(event_stats.social, 0) as social,
        coalesce(event_stats.events_recent, 0) as events_recent
    from customers
    cross join history
    left join order_stats on customers.master_customer_id = order_stats.master_customer_id
    left join rfm_stats on customers.master_customer_id = rfm_stats.master_customer_id
    left join line_stats on customers.master_customer_id = line_stats.master_customer_id
    left join event_stats on customers.master_customer_id = event_stats.master_customer_id

),

exposure as (

    select
        per_customer.*,
        greatest(date_diff('day', observed_from, params.cutoff), 0) as observed_days,
        greatest(date_diff('day', first_created_at, params.cutoff), 0) as tenure_days,
        greatest(date_diff('day', last_activity_at, params.cutoff), 0) as inactive_days,
        greatest(date_diff('day', observed_from, last_activity_at), 1) as active_days
    from per_customer
    cross join params

),

population as (

    select
        sum(revenue) / sum(active_days) as revenue_rate,
        sum(events) / sum(active_days) as events_rate,
        sum(social) / sum(active_days) as social_rate,
        coalesce(sum(discounted_lines) / nullif(sum(n_lines), 0), 0) as discounted_line_ratio
    from exposure

)

select
    e.master_customer_id as customer_id,
    cast(365 * (e.revenue + pop.revenue_rate * p.prior_days) / (e.active_days + p.prior_days) as double)
        as revenue_per_year,
    cast(365 * (e.events + pop.events_rate * p.prior_days) / (e.active_days + p.prior_days) as double)
        as events_per_year,
    cast(365 * (e.social + pop.social_rate * p.prior_days) / (e.active_days + p.prior_days) as double)
        as social_per_year,
    cast((e.discounted_lines + pop.discounted_line_ratio * p.prior_lines) / (e.n_lines + p.prior_lines) as double)
        as discounted_line_ratio,
    cast(e.inactive_days as double) as days_since_last_activity,
    cast((e.events_recent + 1.0)
        / (e.events * p.trend_days / greatest(e.observed_days, p.trend_days) + 1.0) as double) as activity_trend,
    cast(e.observed_days as double) as observed_tenure_days,
    cast(e.tenure_days as double) as tenure_days,
    cast(date_diff('day', e.rfm_last_order_at, p.cutoff) as double) as recency_days,
    cast(e.rfm_orders as bigint) as frequency,
    cast(e.rfm_revenue as double) as monetary
from exposure as e
cross join population as pop
cross join params as p
