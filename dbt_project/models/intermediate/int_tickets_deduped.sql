{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['ticket_id'],
        on_schema_change='fail'
    )
}}
-- service_tickets: the latest version of every ticket_id ever seen, delete tombstones included.
-- Incremental over the raw zone: see macros/incremental_latest.sql. Cleaning: clean_service_tickets(), shared with stg_crm__service_tickets.
-- Grain: one row per ticket_id. Holds the raw feedback_text (may contain phones/emails): work file only.
{%- set columns = [
    'ticket_id', 'customer_id', 'channel', 'category', 'priority', 'opened_at', 'first_response_at',
    'resolved_at', 'status', 'agent_id', 'satisfaction_score', 'feedback_text', 'reopened_count',
    'updated_at', 'is_deleted', '_extract_date', '_source_file', '_source_line', '_loaded_at', '_batch'
] %}
with

raw_rows as (

    select * from {{ source('crm', 'service_tickets') }}
    where {{ new_batches_filter() }}

),

cleaned as (

    {{ clean_service_tickets('raw_rows') }}

),

latest as (

    {{ latest_versions('cleaned', ['ticket_id'], columns) }}

)

select {{ columns | join(', ') }}
from latest
