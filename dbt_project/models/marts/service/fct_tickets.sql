-- Service tickets with Zendesk-style metrics (calendar time), the SLA plan that applied when the ticket
-- was opened, breach flags, reopens, one-touch resolution, satisfaction and redacted feedback.
--   first_response_minutes  (first_response_at - opened_at) in minutes (seconds / 60, 2 decimals)
--   full_resolution_minutes   final (latest) resolution: (resolved_at - opened_at) in minutes, for resolved
--                             tickets (status solved or closed with a resolved_at) only
--   first_resolution_minutes  first resolution: equal to the full resolution of a resolved ticket never
--                             reopened; null for a reopened ticket (the extract carries only the latest
--                             resolved_at, no status history) and for unresolved tickets
--   *_breached                the target was missed (service_sla_breached): the clock stopped later than the
--                             target, or has not stopped at the end of the as_of day while the target has
--                             passed; false while within target; null when no SLA plan applied. The
--                             first-reply clock stops at the first reply or at the solve, whichever is first
--                             (Zendesk: a ticket solved before the target without a reply is not breached)
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
        resolution_target_minutes,
        csat_target
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

resolutions as (

    select
        measured.*,
        case when is_resolved then resolution_seconds end as full_resolution_seconds,
        case when is_resolved and coalesce(reopened_count, 0) = 0 then resolution_seconds end
            as first_resolution_seconds
    from measured

),

with_plan as (

    select
        resolutions.*,
        plans.valid_from as sla_plan_valid_from,
        plans.first_response_target_minutes,
        plans.resolution_target_minutes,
        plans.csat_target
    from resolutions
    left join plans
        on resolutions.priority = plans.priority
        and cast(resolutions.opened_at as date) >= plans.valid_from
        and (plans.valid_to is null or cast(resolutions.opened_at as date) < plans.valid_to)

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
    {{ sales_ratio('with_plan.first_resolution_seconds', 60, 2) }} as first_resolution_minutes,
    {{ sales_ratio('with_plan.full_resolution_seconds', 60, 2) }} as full_resolution_minutes,
    cast(with_plan.sla_plan_valid_from as date) as sla_plan_valid_from,
    cast(with_plan.first_response_target_minutes as integer) as first_response_target_minutes,
    cast(with_plan.resolution_target_minutes as integer) as resolution_target_minutes,
    cast(
        {{ service_sla_breached(
            service_first_reply_stop_seconds(
                'with_plan.first_response_seconds',
                'coalesce(with_plan.first_resolution_seconds, with_plan.full_resolution_seconds)'
            ),
            'with_plan.first_response_target_minutes',
            'with_plan.open_seconds_at_as_of'
        ) }} as boolean
    ) as first_response_breached,
    cast(
        {{ service_sla_breached(
            'with_plan.full_resolution_seconds', 'with_plan.resolution_target_minutes', 'with_plan.open_seconds_at_as_of'
        ) }} as boolean
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
    cast(with_plan.csat_target as decimal(9, 4)) as csat_target,
    cast({{ pii_redact('with_plan.feedback_text') }} as {{ dbt.type_string() }}) as feedback_text_redacted,
    cast(with_plan.feedback_text is not null as boolean) as has_feedback,
    cast(with_plan.updated_at as {{ dbt.type_timestamp() }}) as updated_at
from with_plan
left join id_map
    on with_plan.customer_id = id_map.customer_id
