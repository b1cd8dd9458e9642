-- Campaign performance: reach, contact funnel, conversion by group, cost and the attributed
-- (NON-CAUSAL, last-touch) return, next to the CAUSAL effect of the campaign from the ML layer
-- (ml.campaign_effects, primary estimate per outcome: Lin/HC2 for randomised campaigns, AIPW ATT for
-- targeted ones):
--   attributed_revenue    last touch: net revenue of the orders credited to this campaign (each order to at
--                         most one campaign, fct_campaign_members.attributed_revenue): additive over campaigns
--   effect_*              effect on the conversion probability of a treated member (probability points)
--   lift_pct              relative lift E of conversions (% more conversions than without the campaign)
--   incremental_revenue   ml.campaign_effects.incremental_revenue: revenue effect per treated member x
--                         treatment_members, ALL treatment-group members the cost paid for (not only the
--                         effect_treated_analysed members the estimate saw), with its 95% CI
--   incremental_roi       (incremental_revenue - cost) / cost: revenue and cost of the same members, with
--                         the CI carried over from the revenue CI (cost is known exactly)
-- Built after the ML step (Dagster: reports/rpt_campaign depends on ml/campaign_effects). The pre-hook
-- creates an empty ml.campaign_effects when the ML step never ran (a plain `dbt build`): the effect columns
-- are then null. Keep its columns in step with orchestration/ml_tables.py EFFECT_TYPES.
-- Grain: one row per campaign_id (every campaign of the current plan snapshot).
{{ config(pre_hook=[
    "create schema if not exists ml",
    "create table if not exists ml.campaign_effects (campaign_id varchar, outcome varchar, design varchar,
     estimand varchar, method varchar, is_primary boolean, estimate double, std_error double, ci_low double,
     ci_high double, p_value double, lift_pct double, lift_ci_low double, lift_ci_high double,
     n_treated bigint, n_control bigint, control_conversions bigint, treatment_members bigint,
     incremental_revenue decimal(18,2), incremental_revenue_ci_low decimal(18,2),
     incremental_revenue_ci_high decimal(18,2), overlap_treated_above_clip double, overlap_json varchar,
     note varchar, as_of date)",
]) }}
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
        sum(attributed_orders) as attributed_orders,
        sum(attributed_revenue) as attributed_revenue,
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

primary_effects as (

    select
        campaign_id,
        outcome,
        design,
        estimate,
        ci_low,
        ci_high,
        p_value,
        lift_pct,
        n_treated,
        incremental_revenue,
        incremental_revenue_ci_low,
        incremental_revenue_ci_high
    from {{ source('ml', 'campaign_effects') }}
    where is_primary

),

conversion_effect as (

    select * from primary_effects where outcome = 'conversion'

),

revenue_effect as (

    select * from primary_effects where outcome = 'revenue'

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
        coalesce(members.attributed_orders, 0) as attributed_orders,
        coalesce(members.attributed_revenue, 0) as attributed_revenue,
        coalesce(members.control_revenue, 0) as control_revenue,
        coalesce(spend.cost, 0) as cost,
        conversion_effect.estimate as effect_estimate,
        conversion_effect.ci_low as effect_ci_low,
        conversion_effect.ci_high as effect_ci_high,
        conversion_effect.p_value as effect_p_value,
        coalesce(conversion_effect.design, revenue_effect.design) as effect_design,
        conversion_effect.lift_pct,
        revenue_effect.n_treated as effect_treated_analysed,
        revenue_effect.incremental_revenue,
        revenue_effect.incremental_revenue_ci_low,
        revenue_effect.incremental_revenue_ci_high
    from campaigns
    left join members
        on campaigns.campaign_id = members.campaign_id
    left join spend
        on campaigns.campaign_id = spend.campaign_id
    left join conversion_effect
        on campaigns.campaign_id = conversion_effect.campaign_id
    left join revenue_effect
        on campaigns.campaign_id = revenue_effect.campaign_id

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
    cast(attributed_orders as bigint) as attributed_orders,
    cast(attributed_revenue as {{ type_money() }}) as attributed_revenue,
    cast(control_revenue as {{ type_money() }}) as control_revenue,
    {{ sales_ratio('attributed_revenue - cost', 'cost') }} as attributed_roi,
    cast(effect_estimate as double) as effect_estimate,
    cast(effect_ci_low as double) as effect_ci_low,
    cast(effect_ci_high as double) as effect_ci_high,
    cast(effect_p_value as double) as effect_p_value,
    cast(effect_design as {{ dbt.type_string() }}) as effect_design,
    cast(round(lift_pct, 2) as decimal(18, 2)) as lift_pct,
    cast(effect_treated_analysed as bigint) as effect_treated_analysed,
    cast(incremental_revenue as {{ type_money() }}) as incremental_revenue,
    cast(incremental_revenue_ci_low as {{ type_money() }}) as incremental_revenue_ci_low,
    cast(incremental_revenue_ci_high as {{ type_money() }}) as incremental_revenue_ci_high,
    {{ sales_ratio('incremental_revenue - cost', 'cost') }} as incremental_roi,
    {{ sales_ratio('incremental_revenue_ci_low - cost', 'cost') }} as incremental_roi_ci_low,
    {{ sales_ratio('incremental_revenue_ci_high - cost', 'cost') }} as incremental_roi_ci_high
from combined
