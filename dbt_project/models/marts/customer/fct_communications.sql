-- Communications with customers. Grain: one row per communication_id (current, non-deleted versions).
--
-- The expensive part (latest version per key over every raw version) is the incremental
-- intermediate.int_customer_communications, which stores SOURCE customer ids only; this table joins the
-- CURRENT identity map on every build, so a later merge of two customers never leaves a stale master id.
-- Response time: for an inbound communication, the whole minutes until the next outbound communication
-- to the same (master) customer on the same channel at or after it, when that reply comes within
-- 7 days; null otherwise, for outbound rows and for communications without a customer (customer_id may
-- be empty by the extract contract: such rows are kept, with null customer and master ids). Free text
-- (subject, content) is redacted of emails and phone numbers (pii_redact).
{%- set response_window_minutes = 7 * 24 * 60 %}
with

communications as (

    select
        communication_id,
        customer_id,
        channel,
        direction,
        occurred_at,
        subject,
        content,
        outcome,
        rep_id,
        campaign_id
    from {{ ref('int_customer_communications') }}
    where is_deleted = false

),

with_master as (

    select
        communications.*,
        id_map.master_customer_id,
        coalesce(id_map.master_customer_id, communications.customer_id) as conversation_customer_id
    from communications
    left join {{ ref('int_customer_id_map') }} as id_map
        on communications.customer_id = id_map.customer_id

),

next_outbound as (

    select
        with_master.*,
        min(case when direction = 'outbound' then occurred_at end) over (
            partition by conversation_customer_id, channel
            order by occurred_at
            range between current row and unbounded following
        ) as next_outbound_at
    from with_master

),

response as (

    select
        next_outbound.*,
        case
            when direction = 'inbound' and conversation_customer_id is not null and next_outbound_at is not null
                then floor({{ dbt.datediff('occurred_at', 'next_outbound_at', 'second') }} / 60.0)
        end as minutes_to_next_outbound
    from next_outbound

)

select
    communication_id,
    customer_id,
    master_customer_id,
    channel,
    direction,
    outcome,
    occurred_at,
    {{ customer_to_date('occurred_at') }} as occurred_date,
    rep_id,
    campaign_id,
    {{ pii_redact('subject') }} as subject_redacted,
    {{ pii_redact('content') }} as content_redacted,
    case
        when minutes_to_next_outbound <= {{ response_window_minutes }} then next_outbound_at
    end as responded_at,
    cast(
        case when minutes_to_next_outbound <= {{ response_window_minutes }} then minutes_to_next_outbound end
        as integer
    ) as response_minutes
from response
