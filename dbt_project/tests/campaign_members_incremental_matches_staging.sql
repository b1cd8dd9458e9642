{{ config(meta={'dagster': {'ref': {'name': 'int_campaign_members_deduped'}}}) }}
-- The incremental latest-version layer int_campaign_members_deduped must hold exactly the current rows that the full-recompute
-- staging view stg_crm__campaign_members derives from the whole raw zone (EXCEPT both ways, every column): any row listed here
-- means an incremental run drifted from a full rebuild.
{%- set columns = 'campaign_id, customer_id, member_group, assigned_at, sent_at, opened_at, clicked_at, responded_at, updated_at, _extract_date, _source_file, _source_line, _loaded_at, _batch' %}
with

incremental_current as (

    select {{ columns }}
    from {{ ref('int_campaign_members_deduped') }}
    where not is_deleted

),

full_recompute as (

    select {{ columns }}
    from {{ ref('stg_crm__campaign_members') }}

),

only_incremental as (

    select * from incremental_current
    {{ dbt.except() }}
    select * from full_recompute

),

only_full as (

    select * from full_recompute
    {{ dbt.except() }}
    select * from incremental_current

)

select 'only in int_campaign_members_deduped' as difference, only_incremental.* from only_incremental
union all
select 'only in stg_crm__campaign_members' as difference, only_full.* from only_full
