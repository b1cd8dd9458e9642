-- Marketing campaign plans (current snapshot) with the study design: 'randomised' when the campaign has
-- at least one current control-group member (a hold-out was drawn), else 'observational'.
-- Grain: one row per campaign_id.
with

campaigns as (

    select
        campaign_id,
        name,
        goal,
        strategy,
        measures,
        channel,
        start_date,
        end_date,
        budget,
        target_segment,
        kpi_metric,
        kpi_target,
        attribution_days
    from {{ ref('stg_crm__campaigns') }}

),

member_counts as (

    select
        campaign_id,
        sum(case when member_group = 'treatment' then 1 else 0 end) as treatment_members,
        sum(case when member_group = 'control' then 1 else 0 end) as control_members
    from {{ ref('int_campaign_members_deduped') }}
    where not is_deleted
    group by campaign_id

)

select
    cast(campaigns.campaign_id as {{ dbt.type_string() }}) as campaign_id,
    cast(campaigns.name as {{ dbt.type_string() }}) as campaign_name,
    cast(campaigns.goal as {{ dbt.type_string() }}) as goal,
    cast(campaigns.strategy as {{ dbt.type_string() }}) as strategy,
    cast(campaigns.measures as {{ dbt.type_string() }}) as measures,
    cast(campaigns.channel as {{ dbt.type_string() }}) as channel,
    cast(campaigns.target_segment as {{ dbt.type_string() }}) as target_segment,
    cast(campaigns.start_date as date) as start_date,
    cast(campaigns.end_date as date) as end_date,
    cast({{ dbt.datediff('campaigns.start_date', 'campaigns.end_date', 'day') }} + 1 as integer) as planned_days,
    cast(campaigns.budget as {{ type_money() }}) as budget,
    cast(campaigns.kpi_metric as {{ dbt.type_string() }}) as kpi_metric,
    cast(campaigns.kpi_target as decimal(9, 4)) as kpi_target,
    cast(campaigns.attribution_days as integer) as attribution_days,
    cast(coalesce(member_counts.treatment_members, 0) as bigint) as treatment_members,
    cast(coalesce(member_counts.control_members, 0) as bigint) as control_members,
    cast(
        case when coalesce(member_counts.control_members, 0) > 0 then 'randomised' else 'observational' end
        as {{ dbt.type_string() }}
    ) as design
from campaigns
left join member_counts
    on campaigns.campaign_id = member_counts.campaign_id
