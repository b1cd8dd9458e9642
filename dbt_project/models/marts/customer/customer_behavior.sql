-- Behaviour per customer. Grain: one row per master_customer_id (every resolved customer, zeros when
-- no events). Counts of purchase / visit / like / cart events in the 30, 90 and 365 calendar days ending
-- on as_of and all time, and the last event dates. Events come from the incremental
-- intermediate.int_customer_behavior_events (source customer ids, deletes removed here) rolled up to the
-- master id through the current identity map.
{%- set event_types = ['purchase', 'visit', 'like', 'cart'] %}
{%- set windows = [30, 90, 365] %}
with

as_of as (

    select as_of_date from {{ ref('int_customer_as_of') }}

),

id_map as (

    select customer_id, master_customer_id from {{ ref('int_customer_id_map') }}

),

customers as (

    select distinct master_customer_id from id_map

),

events as (

    select
        id_map.master_customer_id,
        events.event_type,
        events.occurred_at
    from {{ ref('int_customer_behavior_events') }} as events
    inner join id_map
        on events.customer_id = id_map.customer_id
    where events.is_deleted = false

),

per_customer as (

    select
        events.master_customer_id,
        {% for event_type in event_types -%}
        {% for days in windows -%}
        sum(case when events.event_type = '{{ event_type }}'
                and {{ customer_in_last_days('events.occurred_at', days, 'as_of.as_of_date') }} then 1 else 0 end)
            as {{ event_type }}_count_{{ days }}d,
        {% endfor -%}
        sum(case when events.event_type = '{{ event_type }}' then 1 else 0 end) as {{ event_type }}_count_all_time,
        max(case when events.event_type = '{{ event_type }}' then events.occurred_at end) as last_{{ event_type }}_at,
        {% endfor -%}
        count(*) as event_count_all_time,
        max(events.occurred_at) as last_event_at
    from events
    cross join as_of
    group by events.master_customer_id

)

select
    customers.master_customer_id,
    {% for event_type in event_types -%}
    {% for days in windows -%}
    cast(coalesce(per_customer.{{ event_type }}_count_{{ days }}d, 0) as integer) as {{ event_type }}_count_{{ days }}d,
    {% endfor -%}
    cast(coalesce(per_customer.{{ event_type }}_count_all_time, 0) as integer) as {{ event_type }}_count_all_time,
    {% endfor -%}
    cast(coalesce(per_customer.event_count_all_time, 0) as integer) as event_count_all_time,
    {% for event_type in event_types -%}
    per_customer.last_{{ event_type }}_at,
    {% endfor -%}
    per_customer.last_event_at,
    as_of.as_of_date
from customers
cross join as_of
left join per_customer
    on customers.master_customer_id = per_customer.master_customer_id
