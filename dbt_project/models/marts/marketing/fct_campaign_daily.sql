-- Campaign execution per day: spend, cumulative spend against the budget, reported progress against
-- the elapsed schedule, status and risk flags.
--   is_overspend        cumulative spend to date > budget
--   is_behind_schedule  progress_pct more than 10 percentage points below schedule_elapsed_pct, the
--                       elapsed share of the planned days (day d of N planned days = 100 * d / N)
--   has_risk_note       the day carries a risk note
-- Grain: one row per campaign_id, date (current, non-deleted spend rows).
{%- set behind_points = 10 %}
with

spend as (

    select
        campaign_id,
        date as spend_date,
        spend,
        progress_pct,
        status,
        risk_note
    from {{ ref('stg_crm__campaign_spend') }}

),

campaigns as (

    select
        campaign_id,
        start_date,
        end_date,
        budget
    from {{ ref('stg_crm__campaigns') }}

),

cumulative as (

    select
        spend.campaign_id,
        spend.spend_date,
        spend.spend,
        sum(spend.spend) over (
            partition by spend.campaign_id
            order by spend.spend_date
            rows between unbounded preceding and current row
        ) as cumulative_spend,
        spend.progress_pct,
        spend.status,
        spend.risk_note,
        campaigns.budget,
        campaigns.start_date,
        campaigns.end_date
    from spend
    left join campaigns
        on spend.campaign_id = campaigns.campaign_id

),

scheduled as (

    select
        cumulative.*,
        {{ sales_ratio(
            '100 * (' ~ dbt.datediff('start_date', 'spend_date', 'day') ~ ' + 1)',
            dbt.datediff('start_date', 'end_date', 'day') ~ ' + 1',
            2
        ) }} as schedule_elapsed_pct
    from cumulative

)

select
    cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,
    cast(spend_date as date) as spend_date,
    cast(spend as {{ type_money() }}) as spend,
    cast(cumulative_spend as {{ type_money() }}) as cumulative_spend,
    cast(budget as {{ type_money() }}) as budget,
    cast(budget - cumulative_spend as {{ type_money() }}) as budget_remaining,
    {{ sales_ratio('100 * cumulative_spend', 'budget', 2) }} as budget_used_pct,
    cast(progress_pct as decimal(9, 4)) as progress_pct,
    schedule_elapsed_pct,
    cast(status as {{ dbt.type_string() }}) as status,
    cast(risk_note as {{ dbt.type_string() }}) as risk_note,
    cast(coalesce(cumulative_spend > budget, false) as boolean) as is_overspend,
    cast(coalesce(progress_pct < schedule_elapsed_pct - {{ behind_points }}, false) as boolean) as is_behind_schedule,
    cast(risk_note is not null as boolean) as has_risk_note,
    cast(
        coalesce(cumulative_spend > budget, false)
        or coalesce(progress_pct < schedule_elapsed_pct - {{ behind_points }}, false)
        or risk_note is not null
        as boolean
    ) as is_at_risk
from scheduled
