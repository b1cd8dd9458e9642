-- service_tickets: delta extract. Latest version per key; keys whose latest version is deleted are dropped.
-- Grain: one row per ticket_id.
with

raw_rows as (

    select * from {{ source('crm', 'service_tickets') }}

),

cleaned as (

    {{ clean_service_tickets('raw_rows') }}

),

latest as (

    {{ latest_version('cleaned', ['ticket_id']) }}

),

final as (

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
        updated_at,
        extra_fields,
        _extract_date,
        _source_file,
        _source_line,
        _loaded_at,
        _batch
    from latest
    where coalesce(is_deleted, false) = false

)

select * from final
