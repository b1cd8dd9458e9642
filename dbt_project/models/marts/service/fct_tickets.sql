-- Service tickets with Zendesk-style metrics (calendar time), the SLA plan that applied when the ticket
-- was opened, breach flags, reopens, one-touch resolution, satisfaction and redacted feedback.
--   first_response_minutes  (first_response_at - opened_at) in minutes (seconds / 60, 2 decimals)
--   resolution_minutes      full resolution: (resolved_at - opened_at) in minutes, for resolved tickets
--                           (status solved or closed with a resolved_at) only
--   *_breached              the target was missed: answered/resolved later than target, or still not
--                           answered/resolved at the end of the as_of day while the target has passed;
--                           false while within target; null when no SLA plan applied
--   one_touch               resolved (solved/closed), never reopened, and answered by an agent: the extract
--                           has no reply count (Zendesk's one-touch = exactly one agent reply), so a ticket
--                           solved without any reopen is taken as resolved in one touch
-- Grain: one row per ticket_id (current, non-deleted tickets).
with

tickets as (

    select
        ticket_id,
        customer_id,
        channel,
        category,
        priority,
        opened_at,
        first_response_at,
        resolved_at,
        status,
        agent_id,
        satisfaction_score,
        feedback_text,
        reopened_count,
        updated_at
    from {{ ref('int_tickets_deduped') }}
    where not is_deleted

),

plans as (

    select
        priority,
        valid_from,
        valid_to,
        first_response_target_minutes,
        resolution_target_minutes
    from {{ ref('dim_service_plans') }}

),

id_map as (

    select
        customer_id,
        master_customer_id
    from {{ ref('int_customer_id_map') }}

),

measured as (

    select
        tickets.*,
        status in ('solved', 'closed') and resolved_at is not null as is_resolved,
        {{ dbt.datediff('opened_at', 'first_response_at', 'second') }} as first_response_seconds,
        {{ dbt.datediff('opened_at', 'resolved_at', 'second') }} as resolution_seconds,
        {{ dbt.datediff('opened_at', dbt.dateadd('day', 1, 'cast(' ~ service_as_of() ~ ' as ' ~ dbt.type_timestamp() ~ ')'), 'second') }}
            as open_seconds_at_as_of
    from tickets

),

with_plan as (

    select
        measured.*,
        plans.valid_from as sla_plan_valid_from,
        plans.first_response_target_minutes,
        plans.resolution_target_minutes
    from measured
    left join plans
        on measured.priority = plans.priority
        and cast(measured.opened_at as date) >= plans.valid_from
        and (plans.valid_to is null or cast(measured.opened_at as date) < plans.valid_to)

)

select
    cast(with_plan.ticket_id as {{ dbt.type_string() }}) as ticket_id,
    cast(with_plan.customer_id as {{ dbt.type_string() }}) as customer_id,
    cast(coalesce(id_map.master_customer_id, with_plan.customer_id) as {{ dbt.type_string() }}) as master_customer_id,
    cast(with_plan.channel as {{ dbt.type_string() }}) as channel,
    cast(with_plan.category as {{ dbt.type_string() }}) as category,
    cast(with_plan.priority as {{ dbt.type_string() }}) as priority,
    cast(with_plan.status as {{ dbt.type_string() }}) as status,
    cast(with_plan.agent_id as {{ dbt.type_string() }}) as agent_id,
    cast(with_plan.opened_at as {{ dbt.type_timestamp() }}) as opened_at,
    cast({{ sales_month_start('with_plan.opened_at') }} as date) as opened_month,
    cast(with_plan.first_response_at as {{ dbt.type_timestamp() }}) as first_response_at,
    cast(with_plan.resolved_at as {{ dbt.type_timestamp() }}) as resolved_at,
    cast(with_plan.is_resolved as boolean) as is_resolved,
    {{ sales_ratio('with_plan.first_response_seconds', 60, 2) }} as first_response_minutes,
    {{ sales_ratio('case when with_plan.is_resolved then with_plan.resolution_seconds end', 60, 2) }}
        as resolution_minutes,
    cast(with_plan.sla_plan_valid_from as date) as sla_plan_valid_from,
    cast(with_plan.first_response_target_minutes as integer) as first_response_target_minutes,
    cast(with_plan.resolution_target_minutes as integer) as resolution_target_minutes,
    cast(
        case
            when with_plan.first_response_target_minutes is null then null
            when with_plan.first_response_at is not null
                then with_plan.first_response_seconds > 60 * with_plan.first_response_target_minutes
            else with_plan.open_seconds_at_as_of > 60 * with_plan.first_response_target_minutes
        end as boolean
    ) as first_response_breached,
    cast(
        case
            when with_plan.resolution_target_minutes is null then null
            when with_plan.is_resolved
                then with_plan.resolution_seconds > 60 * with_plan.resolution_target_minutes
            else with_plan.open_seconds_at_as_of > 60 * with_plan.resolution_target_minutes
        end as boolean
    ) as resolution_breached,
    cast(coalesce(with_plan.reopened_count, 0) as integer) as reopened_count,
    cast(coalesce(with_plan.reopened_count, 0) > 0 as boolean) as is_reopened,
    cast(
        with_plan.is_resolved
        and coalesce(with_plan.reopened_count, 0) = 0
        and with_plan.first_response_at is not null
        as boolean
    ) as one_touch,
    cast(with_plan.satisfaction_score as integer) as satisfaction_score,
    cast(with_plan.satisfaction_score >= 4 as boolean) as is_satisfied,
    cast({{ pii_redact('with_plan.feedback_text') }} as {{ dbt.type_string() }}) as feedback_text_redacted,
    cast(with_plan.feedback_text is not null as boolean) as has_feedback,
    cast(with_plan.updated_at as {{ dbt.type_timestamp() }}) as updated_at
from with_plan
left join id_map
    on with_plan.customer_id = id_map.customer_id
