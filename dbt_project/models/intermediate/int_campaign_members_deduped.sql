{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['campaign_id', 'customer_id'],
        on_schema_change='fail'
    )
}}
-- campaign_members: the latest version of every (campaign_id, customer_id) ever seen, delete tombstones
-- included. Incremental over the raw zone: see macros/incremental_latest.sql. Cleaning:
-- clean_campaign_members(), shared with stg_crm__campaign_members (the raw column `group` becomes member_group).
-- Grain: one row per campaign_id, customer_id (source customer id).
{%- set columns = [
    'campaign_id', 'customer_id', 'member_group', 'assigned_at', 'sent_at', 'opened_at', 'clicked_at',
    'responded_at', 'updated_at', 'is_deleted', '_extract_date', '_source_file', '_source_line', '_loaded_at',
    '_batch'
] %}
with

raw_rows as (

    select * from {{ source('crm', 'campaign_members') }}
    where {{ new_batches_filter() }}

),

cleaned as (

    {{ clean_campaign_members('raw_rows') }}

),

latest as (

    {{ latest_versions('cleaned', ['campaign_id', 'customer_id'], columns) }}

)

select {{ columns | join(', ') }}
from latest
