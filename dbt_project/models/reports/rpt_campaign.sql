-- Campaign performance: reach, contact funnel, conversion by group, cost and the attributed
-- (NON-CAUSAL) return. Causal effects and incremental ROI are added by the ML layer, not here.
-- Grain: one row per campaign_id (every campaign of the current plan snapshot).
with

campaigns as (

    select
        campaign_id,
        campaign_name,
        channel,
        design,
        start_date,
        end_date,
        attribution_days,
        budget
    from {{ ref('dim_campaigns') }}

),

members as (

    select
        campaign_id,
        count(*) as members,
        sum(case when member_group = 'treatment' then 1 else 0 end) as treatment_members,
        sum(case when member_group = 'control' then 1 else 0 end) as control_members,
        sum(case when is_sent then 1 else 0 end) as sent,
        sum(case when is_sent and is_opened then 1 else 0 end) as opened,
        sum(case when is_sent and is_clicked then 1 else 0 end) as clicked,
        sum(case when is_sent and is_responded then 1 else 0 end) as responded,
        sum(case when member_group = 'treatment' then converted else 0 end) as treatment_conversions,
        sum(case when member_group = 'control' then converted else 0 end) as control_conversions,
        sum(case when member_group = 'treatment' then revenue else 0 end) as treatment_revenue,
        sum(case when member_group = 'control' then revenue else 0 end) as control_revenue
    from {{ ref('fct_campaign_members') }}
    group by campaign_id

),

spend as (

    select
        campaign_id,
        sum(spend) as cost
    from {{ ref('fct_campaign_daily') }}
    group by campaign_id

),

combined as (

    select
        campaigns.campaign_id,
        campaigns.campaign_name,
        campaigns.channel,
        campaigns.design,
        campaigns.start_date,
        campaigns.end_date,
        campaigns.attribution_days,
        campaigns.budget,
        coalesce(members.members, 0) as members,
        coalesce(members.treatment_members, 0) as treatment_members,
        coalesce(members.control_members, 0) as control_members,
        coalesce(members.sent, 0) as sent,
        coalesce(members.opened, 0) as opened,
        coalesce(members.clicked, 0) as clicked,
        coalesce(members.responded, 0) as responded,
        coalesce(members.treatment_conversions, 0) as treatment_conversions,
        coalesce(members.control_conversions, 0) as control_conversions,
        coalesce(members.treatment_revenue, 0) as attributed_revenue,
        coalesce(members.control_revenue, 0) as control_revenue,
        coalesce(spend.cost, 0) as cost
    from campaigns
    left join members
        on campaigns.campaign_id = members.campaign_id
    left join spend
        on campaigns.campaign_id = spend.campaign_id

)

select
    cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,
    cast(campaign_name as {{ dbt.type_string() }}) as campaign_name,
    cast(channel as {{ dbt.type_string() }}) as channel,
    cast(design as {{ dbt.type_string() }}) as design,
    cast(start_date as date) as start_date,
    cast(end_date as date) as end_date,
    cast(attribution_days as integer) as attribution_days,
    cast(budget as {{ type_money() }}) as budget,
    cast(members as bigint) as members,
    cast(treatment_members as bigint) as treatment_members,
    cast(control_members as bigint) as control_members,
    cast(sent as bigint) as sent,
    cast(opened as bigint) as opened,
    cast(clicked as bigint) as clicked,
    cast(responded as bigint) as responded,
    {{ sales_ratio('opened', 'sent') }} as open_rate,
    {{ sales_ratio('clicked', 'sent') }} as click_rate,
    {{ sales_ratio('responded', 'sent') }} as response_rate,
    cast(treatment_conversions as bigint) as treatment_conversions,
    cast(control_conversions as bigint) as control_conversions,
    {{ sales_ratio('treatment_conversions', 'treatment_members') }} as treatment_conversion_rate,
    {{ sales_ratio('control_conversions', 'control_members') }} as control_conversion_rate,
    cast(cost as {{ type_money() }}) as cost,
    cast(attributed_revenue as {{ type_money() }}) as attributed_revenue,
    cast(control_revenue as {{ type_money() }}) as control_revenue,
    {{ sales_ratio('attributed_revenue - cost', 'cost') }} as attributed_roi
from combined
