{{ config(schema='ml_inputs', materialized='table') }}
{%- set event_types = contract_codes('behavior_events', 'event_type') %}
-- Campaign-effect input: one row per campaign and unit (a source customer), with the treatment, the
-- outcomes in the attribution window and covariates measured strictly BEFORE the unit's assigned_at.
-- Grain: one row per campaign_id, customer_id (the unit: a source customer).
-- Parameter (ml_input_settings): as_of: only units whose attribution window has closed by as_of + 1 day
-- count, and only orders / events / tickets before that moment are read.
--
-- Units (the same grain as marts.fct_campaign_members: the SOURCE customer, whose own orders define the
-- outcome):
--   randomised campaigns    every current member; treated = member_group 'treatment', control = 'control'.
--   observational campaigns (targeted, no control group) the targeted members (treated = 1) plus a
--     comparison group (treated = 0): customers created more than a day before the campaign start_date,
--     not members of the campaign, not in another campaign whose window overlaps, with assigned_at = the
--     campaign's first assigned_at (all members of a targeted send share it). On both sides a unit needs
--     some order or behaviour event before assigned_at (a known, once-active customer: the eligibility
--     rule applied before the send; never-active sign-ups are not campaign targets).
-- Outcomes, exactly as in marts.fct_campaign_members: conversion = at least one completed order of the
--   same source customer with assigned_at <= order_date < assigned_at + attribution_days; revenue = their
--   net amount; and per behaviour event type of the contract its count in the same window (`visits`,
--   `likes`, ...: one column per code of contract_codes('behavior_events', 'event_type'), named by
--   ml_event_outcome_column()). The window is the macro campaign_window_end / in_campaign_window, the one
--   fct_campaign_members uses.
-- Covariates (pre-assignment, over the full history before assigned_at, never capped):
--   recency_days (days since the last completed order; NULL when none), frequency (completed orders),
--   monetary (their net revenue), visits_90d / events_90d (visit / all behaviour events in the 90 days
--   before), tickets_365d (service tickets opened in the 365 days before), tenure_days (days since the
--   source customer was created); customer attributes recorded at sign-up, from marts.dim_customers of
--   the unit's master customer: gender, age_band, occupation, city, region, country, customer_type, source.
with

params as (

    select as_of_date + interval 1 day as cutoff
    from {{ ref('ml_input_settings') }}

),

campaigns as (

    select campaign_id, design, attribution_days, start_date
    from {{ ref('dim_campaigns') }}

),

all_members as (

    select campaign_id, customer_id, assigned_at, attribution_window_end
    from {{ ref('fct_campaign_members') }}

),

members as (

    select
        m.campaign_id,
        m.customer_id,
        m.master_customer_id,
        cast(m.member_group = 'treatment' as integer) as treated,
        m.assigned_at,
        m.attribution_window_end,
        m.converted as conversion,
        m.revenue
    from {{ ref('fct_campaign_members') }} as m
    cross join params
    where m.attribution_window_end <= params.cutoff

),

completed_orders as (

    -- DECIMAL money: sums stay exact (a DOUBLE sum depends on the order of parallel aggregation)
    select o.customer_id, o.order_date, o.net_revenue
    from {{ ref('fct_orders') }} as o
    cross join params
    where o.is_completed and o.order_date < params.cutoff

),

behaviour_events as (

    select e.customer_id, e.event_type, e.occurred_at
    from {{ ref('int_customer_behavior_events') }} as e
    cross join params
    where not e.is_deleted and e.occurred_at < params.cutoff

),

source_customers as (

    select customer_id, min(created_at) as created_at
    from {{ ref('int_customer_versions') }}
    group by customer_id

),

targeted as (

    select
        campaigns.campaign_id,
        campaigns.attribution_days,
        campaigns.start_date,
        min(members.assigned_at) as assigned_at
    from campaigns
    inner join members on campaigns.campaign_id = members.campaign_id
    where campaigns.design = 'observational'
    group by campaigns.campaign_id, campaigns.attribution_days, campaigns.start_date

),

targeted_windows as (

    select
        campaign_id,
        start_date,
        assigned_at,
        {{ campaign_window_end('assigned_at', 'attribution_days') }} as attribution_window_end
    from targeted

),

comparison_candidates as (

    select
        targeted_windows.campaign_id,
        source_customers.customer_id,
        targeted_windows.assigned_at,
        targeted_windows.attribution_window_end
    from targeted_windows
    inner join source_customers
        on source_customers.created_at < cast(targeted_windows.start_date as timestamp) - interval 1 day
    cross join params
    where targeted_windows.attribution_window_end <= params.cutoff

),

comparison as (

    select
        c.campaign_id,
        c.customer_id,
        id_map.master_customer_id,
        0 as treated,
        c.assigned_at,
        c.attribution_window_end
    from comparison_candidates as c
    inner join {{ ref('customer_id_map') }} as id_map on c.customer_id = id_map.customer_id
    where not exists (
        select 1
        from all_members as m
        where m.customer_id = c.customer_id
            and (m.campaign_id = c.campaign_id
                or (m.assigned_at < c.attribution_window_end and c.assigned_at < m.attribution_window_end))
    )

),

comparison_outcomes as (

    select
        comparison.campaign_id,
        comparison.customer_id,
        cast(count(completed_orders.order_date) > 0 as integer) as conversion,
        coalesce(sum(completed_orders.net_revenue), 0) as revenue
    from comparison
    left join completed_orders
        on completed_orders.customer_id = comparison.customer_id
        and {{ in_campaign_window('completed_orders.order_date', 'comparison.assigned_at',
                                  'comparison.attribution_window_end') }}
    group by comparison.campaign_id, comparison.customer_id

),

units as (

    select
        campaign_id, customer_id, master_customer_id, treated, assigned_at, attribution_window_end, conversion,
        revenue
    from members
    union all
    select
        c.campaign_id, c.customer_id, c.master_customer_id, c.treated, c.assigned_at, c.attribution_window_end,
        o.conversion, o.revenue
    from comparison as c
    inner join comparison_outcomes as o
        on c.campaign_id = o.campaign_id and c.customer_id = o.customer_id

),

prior_orders as (

    select
        units.campaign_id,
        units.customer_id,
        count(completed_orders.order_date) as frequency,
        coalesce(sum(completed_orders.net_revenue), 0) as monetary,
        max(completed_orders.order_date) as last_order_at
    from units
    left join completed_orders
        on completed_orders.customer_id = units.customer_id
        and completed_orders.order_date < units.assigned_at
    group by units.campaign_id, units.customer_id

),

prior_events as (

    select
        units.campaign_id,
        units.customer_id,
        count(behaviour_events.occurred_at) as events,
        count(behaviour_events.occurred_at) filter (
            where behaviour_events.event_type = 'visit'
                and behaviour_events.occurred_at >= units.assigned_at - interval 90 day
        ) as visits_90d,
        count(behaviour_events.occurred_at) filter (
            where behaviour_events.occurred_at >= units.assigned_at - interval 90 day
        ) as events_90d
    from units
    left join behaviour_events
        on behaviour_events.customer_id = units.customer_id
        and behaviour_events.occurred_at < units.assigned_at
    group by units.campaign_id, units.customer_id

),

prior_tickets as (

    select
        units.campaign_id,
        units.customer_id,
        count(t.opened_at) as tickets_365d
    from units
    left join {{ ref('fct_tickets') }} as t
        on t.customer_id = units.customer_id
        and t.opened_at < units.assigned_at
        and t.opened_at >= units.assigned_at - interval 365 day
    group by units.campaign_id, units.customer_id

),

window_events as (

    -- behaviour-event outcomes: events of each type in [assigned_at, attribution_window_end)
    select
        units.campaign_id,
        units.customer_id,
        {% for event_type in event_types -%}
        count(behaviour_events.occurred_at) filter (
            where behaviour_events.event_type = {{ sql_string_literal(event_type) }}
        ) as {{ ml_event_outcome_column(event_type) }},
        {% endfor -%}
        count(behaviour_events.occurred_at) as window_events
    from units
    left join behaviour_events
        on behaviour_events.customer_id = units.customer_id
        and {{ in_campaign_window('behaviour_events.occurred_at', 'units.assigned_at',
                                  'units.attribution_window_end') }}
    group by units.campaign_id, units.customer_id

),

attributes as (

    select
        master_customer_id, gender, age_band, occupation, city, region, country, customer_type, source
    from {{ ref('dim_customers') }}

)

select
    units.campaign_id,
    campaigns.design,
    units.customer_id,
    units.master_customer_id,
    cast(units.treated as integer) as treated,
    units.assigned_at,
    cast(units.conversion as integer) as conversion,
    cast(units.revenue as double) as revenue,
    cast(date_diff('second', prior_orders.last_order_at, units.assigned_at) / 86400.0 as double) as recency_days,
    cast(prior_orders.frequency as double) as frequency,
    cast(prior_orders.monetary as double) as monetary,
    cast(prior_events.visits_90d as double) as visits_90d,
    cast(prior_events.events_90d as double) as events_90d,
    cast(prior_tickets.tickets_365d as double) as tickets_365d,
    cast(date_diff('second', source_customers.created_at, units.assigned_at) / 86400.0 as double) as tenure_days,
    attributes.gender,
    attributes.age_band,
    attributes.occupation,
    attributes.city,
    attributes.region,
    attributes.country,
    attributes.customer_type,
    attributes.source,
    {% for event_type in event_types -%}
    window_events.{{ ml_event_outcome_column(event_type) }}{% if not loop.last %},{% endif %}
    {% endfor -%}
from units
inner join campaigns on units.campaign_id = campaigns.campaign_id
inner join prior_orders
    on units.campaign_id = prior_orders.campaign_id and units.customer_id = prior_orders.customer_id
inner join prior_events
    on units.campaign_id = prior_events.campaign_id and units.customer_id = prior_events.customer_id
inner join prior_tickets
    on units.campaign_id = prior_tickets.campaign_id and units.customer_id = prior_tickets.customer_id
inner join window_events
    on units.campaign_id = window_events.campaign_id and units.customer_id = window_events.customer_id
left join source_customers on units.customer_id = source_customers.customer_id
left join attributes on units.master_customer_id = attributes.master_customer_id
where campaigns.design = 'randomised' or prior_orders.frequency + prior_events.events > 0
