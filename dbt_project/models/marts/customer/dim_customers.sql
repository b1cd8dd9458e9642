-- Resolved customers. Grain: one row per master_customer_id (see int_customer_id_map).
--
-- Golden record: each descriptive attribute is taken from the most recently updated source record of the
-- group that has a value for it (updated_at desc, then customer_id desc); `source` (how the person was
-- acquired) and first_created_at come from the earliest record. Personal data only as masked display
-- values and keyed hashes (int_customer_pii_tokens), chosen by the same rule; no birth date (age band).
-- The address only as address_masked (customer_mask_address: administrative prefix in clear, street
-- masked). Activity joins every fact on its SOURCE customer_id through the id map.
--
-- Churn: the one definition, intermediate.int_customer_churn_by_month, at its as_of row (churn window =
-- customer_churn_days() = 180 days): a customer is churned at as_of when it had no completed order and no
-- behaviour event in the 180 calendar days ending on as_of, and was created before that window (a newer
-- customer is too new to judge). Equivalently churned_on = (the later of the first created date and the
-- last completed-order / behaviour-event date on or before as_of) + 180 days, and is_churned = churned_on
-- <= as_of. rpt_customer and rpt_service read the same model at each month end.
{%- set latest_attributes = ['gender', 'birth_date', 'occupation', 'city', 'region', 'country',
                             'customer_type', 'status', 'name_masked', 'email_masked', 'phone_masked',
                             'address_masked', 'name_hash', 'email_hash', 'phone_hash'] %}
{#- carried unchanged from `final` to the output, around the computed age_band -#}
{%- set identity_columns = ['name_masked', 'email_masked', 'phone_masked', 'address_masked', 'name_hash',
                            'email_hash', 'phone_hash', 'gender'] %}
{%- set profile_columns = ['occupation', 'city', 'region', 'country', 'customer_type', 'source', 'status',
                           'first_created_at', 'last_updated_at', 'first_activity_at', 'last_activity_at',
                           'first_order_at', 'last_order_at', 'last_completed_order_at',
                           'last_behavior_event_at', 'last_communication_at', 'last_ticket_at'] %}
with

as_of as (

    select as_of_date from {{ ref('int_customer_as_of') }}

),

id_map as (

    select customer_id, master_customer_id from {{ ref('int_customer_id_map') }}

),

customers as (

    select
        customers.customer_id,
        id_map.master_customer_id,
        customers.gender,
        customers.birth_date,
        customers.occupation,
        customers.city,
        customers.region,
        customers.country,
        customers.customer_type,
        customers.source,
        customers.status,
        customers.created_at,
        customers.updated_at,
        tokens.name_masked,
        tokens.email_masked,
        tokens.phone_masked,
        {{ customer_mask_address('customers.address') }} as address_masked,
        tokens.name_hash,
        tokens.email_hash,
        tokens.phone_hash
    from {{ ref('stg_crm__customers') }} as customers
    inner join id_map
        on customers.customer_id = id_map.customer_id
    left join {{ ref('int_customer_pii_tokens') }} as tokens
        on customers.customer_id = tokens.customer_id

),

ranked as (

    select
        customers.*,
        {% for attribute in latest_attributes -%}
        row_number() over (
            partition by master_customer_id
            order by
                case when {{ attribute }} is null then 1 else 0 end,
                updated_at desc nulls last,
                customer_id desc
        ) as {{ attribute }}_rank,
        {% endfor -%}
        row_number() over (
            partition by master_customer_id
            order by
                case when source is null then 1 else 0 end,
                created_at asc nulls last,
                customer_id asc
        ) as source_rank
    from customers

),

golden as (

    select
        master_customer_id,
        {% for attribute in latest_attributes -%}
        max(case when {{ attribute }}_rank = 1 then {{ attribute }} end) as {{ attribute }},
        {% endfor -%}
        max(case when source_rank = 1 then source end) as source,
        min(created_at) as first_created_at,
        max(updated_at) as last_updated_at,
        count(*) as source_records_merged
    from ranked
    group by master_customer_id

),

order_lines as (

    select
        order_id,
        sum(line_net_amount) as order_net_amount
    from {{ ref('stg_crm__order_items') }}
    group by order_id

),

orders as (

    select
        id_map.master_customer_id,
        orders.order_id,
        orders.order_date,
        orders.status,
        coalesce(order_lines.order_net_amount, 0) as order_net_amount
    from {{ ref('stg_crm__orders') }} as orders
    inner join id_map
        on orders.customer_id = id_map.customer_id
    left join order_lines
        on orders.order_id = order_lines.order_id

),

order_summary as (

    select
        master_customer_id,
        count(*) as order_count,
        sum(case when status = 'completed' then 1 else 0 end) as completed_order_count,
        sum(case when status = 'completed' then order_net_amount else 0 end) as lifetime_value,
        min(order_date) as first_order_at,
        max(order_date) as last_order_at,
        min(case when status = 'completed' then order_date end) as first_completed_order_at,
        max(case when status = 'completed' then order_date end) as last_completed_order_at
    from orders
    group by master_customer_id

),

behavior_summary as (

    select
        id_map.master_customer_id,
        min(events.occurred_at) as first_behavior_event_at,
        max(events.occurred_at) as last_behavior_event_at
    from {{ ref('int_customer_behavior_events') }} as events
    inner join id_map
        on events.customer_id = id_map.customer_id
    where events.is_deleted = false
    group by id_map.master_customer_id

),

communication_summary as (

    select
        id_map.master_customer_id,
        min(communications.occurred_at) as first_communication_at,
        max(communications.occurred_at) as last_communication_at
    from {{ ref('int_customer_communications') }} as communications
    inner join id_map
        on communications.customer_id = id_map.customer_id
    where communications.is_deleted = false
    group by id_map.master_customer_id

),

-- the churn definition at as_of (its row whose period ends on as_of)
churn_at_as_of as (

    select
        churn.master_customer_id,
        churn.last_engagement_date,
        churn.churned_on,
        churn.is_churned
    from {{ ref('int_customer_churn_by_month') }} as churn
    inner join as_of
        on churn.period_end = as_of.as_of_date

),

ticket_summary as (

    select
        id_map.master_customer_id,
        min(tickets.opened_at) as first_ticket_at,
        max(tickets.opened_at) as last_ticket_at
    from {{ ref('stg_crm__service_tickets') }} as tickets
    inner join id_map
        on tickets.customer_id = id_map.customer_id
    group by id_map.master_customer_id

),

joined as (

    select
        golden.*,
        order_summary.order_count,
        order_summary.completed_order_count,
        order_summary.lifetime_value,
        order_summary.first_order_at,
        order_summary.last_order_at,
        order_summary.first_completed_order_at,
        order_summary.last_completed_order_at,
        behavior_summary.first_behavior_event_at,
        behavior_summary.last_behavior_event_at,
        communication_summary.first_communication_at,
        communication_summary.last_communication_at,
        ticket_summary.first_ticket_at,
        ticket_summary.last_ticket_at,
        churn_at_as_of.last_engagement_date,
        churn_at_as_of.churned_on,
        churn_at_as_of.is_churned,
        as_of.as_of_date
    from golden
    cross join as_of
    left join order_summary on golden.master_customer_id = order_summary.master_customer_id
    left join behavior_summary on golden.master_customer_id = behavior_summary.master_customer_id
    left join communication_summary on golden.master_customer_id = communication_summary.master_customer_id
    left join ticket_summary on golden.master_customer_id = ticket_summary.master_customer_id
    left join churn_at_as_of on golden.master_customer_id = churn_at_as_of.master_customer_id

),

activity as (

    select
        joined.*,
        {%- set firsts = ['first_order_at', 'first_behavior_event_at', 'first_communication_at', 'first_ticket_at'] %}
        {%- set lasts = ['last_order_at', 'last_behavior_event_at', 'last_communication_at', 'last_ticket_at'] %}
        case
            {% for column in firsts -%}
            when {{ column }} is not null
                {%- for other in firsts if other != column %} and ({{ other }} is null or {{ column }} <= {{ other }}){% endfor %}
                then {{ column }}
            {% endfor -%}
        end as first_activity_at,
        case
            {% for column in lasts -%}
            when {{ column }} is not null
                {%- for other in lasts if other != column %} and ({{ other }} is null or {{ column }} >= {{ other }}){% endfor %}
                then {{ column }}
            {% endfor -%}
        end as last_activity_at
    from joined

),

final as (

    select
        master_customer_id,
        cast(source_records_merged as integer) as source_records_merged,
        {% for column in identity_columns %}{{ column }},
        {% endfor -%}
        {{ customer_age_band('birth_date', 'as_of_date') }} as age_band,
        {% for column in profile_columns %}{{ column }},
        {% endfor -%}
        cast(coalesce(order_count, 0) as integer) as order_count,
        cast(coalesce(completed_order_count, 0) as integer) as completed_order_count,
        cast(coalesce(lifetime_value, 0) as {{ type_money() }}) as lifetime_value,
        last_engagement_date,
        churned_on,
        coalesce(is_churned, false) as is_churned,
        as_of_date
    from activity

)

select
    master_customer_id,
    source_records_merged,
    {% for column in identity_columns + ['age_band'] + profile_columns %}{{ column }},
    {% endfor -%}
    order_count,
    completed_order_count,
    lifetime_value,
    last_engagement_date,
    churned_on,
    is_churned,
    as_of_date
from final
