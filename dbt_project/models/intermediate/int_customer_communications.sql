{{
    config(
        materialized='incremental',
        unique_key='communication_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail'
    )
}}
-- Communications, latest version per communication_id, deletes kept as tombstones (is_deleted = true),
-- incremental by load batch (see macros/incremental_latest.sql). Holds the SOURCE customer_id only: the
-- master id is joined in marts.fct_communications, so a later identity merge never leaves a stale id here.
-- Content is raw free text (personal data): work file only; the mart redacts it.
-- Grain: one row per communication_id ever delivered.
with

raw_rows as (

    select * from {{ source('crm', 'communications') }}
    where {{ new_batches_filter() }}

),

cleaned as (

    select *
    from ({{ clean_communications('raw_rows') }}) as cleaned_rows
    where communication_id is not null

),

latest as (

    {{ latest_versions('cleaned', ['communication_id'], [
        'communication_id', 'customer_id', 'channel', 'direction', 'occurred_at', 'subject', 'content',
        'outcome', 'rep_id', 'campaign_id', 'updated_at', 'is_deleted',
        '_extract_date', '_source_file', '_source_line', '_loaded_at', '_batch'
    ]) }}

)

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
    campaign_id,
    updated_at,
    is_deleted,
    _extract_date,
    _source_file,
    _source_line,
    _loaded_at,
    _batch
from latest
