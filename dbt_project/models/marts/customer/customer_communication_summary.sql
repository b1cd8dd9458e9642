-- Communications per customer, for the communication module of the CRM. Grain: one row per
-- master_customer_id (every resolved customer; counts are 0 and dates null without a communication).
-- Communications are fct_communications rows of a current customer that happened on or before as_of
-- (occurred_date <= as_of; later ones are not counted yet); communications without a customer are not in
-- any row. Counts: all, inbound, outbound, per channel (the contract's channel codes, contract_codes), and
-- in the 90 calendar days ending on as_of. Response: inbound communications answered (fct_communications
-- responded_at: the next outbound on the same channel within 7 days), their share of the inbound ones, and
-- the median and mean response minutes over the answered ones. Last contact: the latest communication
-- (ties at the same time: the highest communication_id), its channel and direction, days from its date to as_of.
{%- set channels = contract_codes('communications', 'channel') %}
with

as_of as (

    select as_of_date from {{ ref('int_customer_as_of') }}

),

customers as (

    select master_customer_id from {{ ref('dim_customers') }}

),

communications as (

    select
        comms.communication_id,
        comms.master_customer_id,
        comms.channel,
        comms.direction,
        comms.occurred_at,
        comms.occurred_date,
        comms.responded_at,
        comms.response_minutes
    from {{ ref('fct_communications') }} as comms
    cross join as_of
    where comms.master_customer_id is not null
        and comms.occurred_date <= as_of.as_of_date

),

per_customer as (

    select
        communications.master_customer_id,
        count(*) as communications,
        sum(case when communications.direction = 'inbound' then 1 else 0 end) as inbound_communications,
        sum(case when communications.direction = 'outbound' then 1 else 0 end) as outbound_communications,
        {% for channel in channels -%}
        sum(case when communications.channel = '{{ channel }}' then 1 else 0 end) as {{ channel }}_communications,
        {% endfor -%}
        sum(case when {{ customer_in_last_days('communications.occurred_at', 90, 'as_of.as_of_date') }}
            then 1 else 0 end) as communications_90d,
        sum(case when communications.direction = 'inbound' and communications.responded_at is not null
            then 1 else 0 end) as inbound_answered,
        median(communications.response_minutes) as median_response_minutes,
        avg(communications.response_minutes) as avg_response_minutes,
        min(communications.occurred_at) as first_contact_at
    from communications
    cross join as_of
    group by communications.master_customer_id

),

last_contact as (

    select
        master_customer_id,
        occurred_at as last_contact_at,
        occurred_date as last_contact_date,
        channel as last_contact_channel,
        direction as last_contact_direction,
        row_number() over (
            partition by master_customer_id order by occurred_at desc, communication_id desc
        ) as recency_rank
    from communications

)

select
    cast(customers.master_customer_id as {{ dbt.type_string() }}) as master_customer_id,
    cast(coalesce(per_customer.communications, 0) as bigint) as communications,
    cast(coalesce(per_customer.inbound_communications, 0) as bigint) as inbound_communications,
    cast(coalesce(per_customer.outbound_communications, 0) as bigint) as outbound_communications,
    {% for channel in channels -%}
    cast(coalesce(per_customer.{{ channel }}_communications, 0) as bigint) as {{ channel }}_communications,
    {% endfor -%}
    cast(coalesce(per_customer.communications_90d, 0) as bigint) as communications_90d,
    cast(coalesce(per_customer.inbound_answered, 0) as bigint) as inbound_answered,
    cast(
        case
            when per_customer.inbound_communications > 0
                then round(per_customer.inbound_answered / per_customer.inbound_communications, 4)
        end as decimal(9, 4)
    ) as inbound_response_rate,
    cast(per_customer.median_response_minutes as double) as median_response_minutes,
    cast(per_customer.avg_response_minutes as double) as avg_response_minutes,
    cast(per_customer.first_contact_at as timestamp) as first_contact_at,
    cast(last_contact.last_contact_at as timestamp) as last_contact_at,
    cast(last_contact.last_contact_channel as {{ dbt.type_string() }}) as last_contact_channel,
    cast(last_contact.last_contact_direction as {{ dbt.type_string() }}) as last_contact_direction,
    cast({{ dbt.datediff('last_contact.last_contact_date', 'as_of.as_of_date', 'day') }} as integer)
        as days_since_last_contact
from customers
cross join as_of
left join per_customer
    on customers.master_customer_id = per_customer.master_customer_id
left join last_contact
    on customers.master_customer_id = last_contact.master_customer_id
    and last_contact.recency_rank = 1
