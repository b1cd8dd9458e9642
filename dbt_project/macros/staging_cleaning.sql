{#-
    The cleaning of the delta entities that an incremental intermediate model also reads straight from the
    raw zone (it must read only new load batches, so it cannot read the staging view, which is the latest
    version over all batches). One macro per entity, used by both: stg_crm__<entity> and its incremental
    model clean exactly alike (the *_incremental_matches_staging tests check the result at every build).
    Each returns a SELECT over `relation` (raw rows with the lineage columns) of the cleaned columns, every
    version kept, is_deleted never null.
-#}

{% macro clean_orders(relation) -%}
    select
        {{ clean_text('order_id') }} as order_id,
        {{ clean_text('customer_id') }} as customer_id,
        {{ clean_text('rep_id') }} as rep_id,
        order_date,
        {{ clean_code('status') }} as status,
        {{ clean_code('channel') }} as channel,
        upper({{ clean_text('currency') }}) as currency,  -- ISO 4217: upper-case, as in the contract
        {{ version_columns() }}
    from {{ relation }}
{%- endmacro %}

{% macro clean_order_items(relation) -%}
    select
        {{ clean_text('order_id') }} as order_id,
        line_no,
        {{ clean_text('product_id') }} as product_id,
        quantity,
        unit_price,
        discount,
        {{ version_columns() }}
    from {{ relation }}
{%- endmacro %}

{% macro clean_campaign_members(relation) -%}
    select
        {{ clean_text('campaign_id') }} as campaign_id,
        {{ clean_text('customer_id') }} as customer_id,
        {{ clean_code(adapter.quote('group')) }} as member_group,
        assigned_at,
        sent_at,
        opened_at,
        clicked_at,
        responded_at,
        {{ version_columns() }}
    from {{ relation }}
{%- endmacro %}

{% macro clean_service_tickets(relation) -%}
    select
        {{ clean_text('ticket_id') }} as ticket_id,
        {{ clean_text('customer_id') }} as customer_id,
        {{ clean_code('channel') }} as channel,
        {{ clean_code('category') }} as category,
        {{ clean_code('priority') }} as priority,
        opened_at,
        first_response_at,
        resolved_at,
        {{ clean_code('status') }} as status,
        {{ clean_text('agent_id') }} as agent_id,
        satisfaction_score,
        {{ clean_text('feedback_text') }} as feedback_text,
        reopened_count,
        {{ version_columns() }}
    from {{ relation }}
{%- endmacro %}

{% macro clean_communications(relation) -%}
    select
        {{ clean_text('communication_id') }} as communication_id,
        {{ clean_text('customer_id') }} as customer_id,
        {{ clean_code('channel') }} as channel,
        {{ clean_code('direction') }} as direction,
        occurred_at,
        {{ clean_text('subject') }} as subject,
        {{ clean_text('content') }} as content,
        {{ clean_code('outcome') }} as outcome,
        {{ clean_text('rep_id') }} as rep_id,
        {{ clean_text('campaign_id') }} as campaign_id,
        {{ version_columns() }}
    from {{ relation }}
{%- endmacro %}

{% macro clean_behavior_events(relation) -%}
    select
        {{ clean_text('event_id') }} as event_id,
        {{ clean_text('customer_id') }} as customer_id,
        {{ clean_code('event_type') }} as event_type,
        occurred_at,
        {{ clean_text('product_id') }} as product_id,
        {{ clean_code('channel') }} as channel,
        {{ version_columns() }}
    from {{ relation }}
{%- endmacro %}

{#- version_columns(): the columns every version of a delta entity carries after its own ones: updated_at,
    is_deleted (never null) and the lineage columns (_batch as a DATE). -#}
{% macro version_columns() -%}
    updated_at,
        coalesce(is_deleted, false) as is_deleted,
        extra_fields,
        _extract_date,
        _source_file,
        _source_line,
        _loaded_at,
        cast(_batch as date) as _batch
{%- endmacro %}
