-- Monthly customer-service performance by ticket category and priority: volume, solved and unsolved
-- counts, first-response times (median and p90 over answered tickets) and full-resolution times (median
-- and p90 over SOLVED tickets only: unsolved tickets are left out of them and counted in
-- unresolved_tickets), SLA breach rates, reopens, one-touch resolution, CSAT as two named measures
-- (csat_share_satisfied: share of rated tickets scoring 4-5; avg_satisfaction_score: mean 1-5 score,
-- compared with avg_satisfaction_score_target, the mean 1-5 csat_target of the same rated tickets' plans),
-- feedback counts and churn among the customers who opened the tickets: churned at the end of the
-- ticket's month (the month's last day, or as_of in the month of as_of), by the customer domain's one
-- churn definition (intermediate.int_customer_churn_by_month, the rule dim_customers publishes at as_of);
-- NULL for a month whose churn is not measurable (before the activity data covers its 180-day window,
-- or after the month of as_of).
-- Grain: one row per opened_month, category, priority.
with

tickets as (

    select
        ticket_id,
        master_customer_id,
        opened_month,
        category,
        priority,
        is_resolved,
        first_response_minutes,
        full_resolution_minutes,
        first_response_breached,
        resolution_breached,
        is_reopened,
        one_touch,
        satisfaction_score,
        is_satisfied,
        csat_target,
        has_feedback
    from {{ ref('fct_tickets') }}

),

churn as (

    select
        master_customer_id,
        month_start,
        is_churned
    from {{ ref('int_customer_churn_by_month') }}

),

churn_measurable as (

    select
        measurable.churn_measurable_from,
        {{ customer_to_date(dbt.date_trunc('month', 'as_of.as_of_date')) }} as as_of_month
    from (
        select max(churn_measurable_from) as churn_measurable_from
        from {{ ref('int_customer_churn_by_month') }}
    ) as measurable
    cross join {{ ref('int_customer_as_of') }} as as_of

),

tickets_with_churn as (

    select
        tickets.*,
        case when churn.is_churned then tickets.master_customer_id end as churned_master_customer_id
    from tickets
    left join churn
        on tickets.master_customer_id = churn.master_customer_id
        and tickets.opened_month = churn.month_start

),

monthly as (

    select
        opened_month,
        category,
        priority,
        count(*) as tickets,
        sum(case when is_resolved then 1 else 0 end) as resolved_tickets,
        {{ service_percentile('first_response_minutes', 0.5) }} as first_response_minutes_median,
        {{ service_percentile('first_response_minutes', 0.9) }} as first_response_minutes_p90,
        sum(case when is_resolved then 0 else 1 end) as unresolved_tickets,
        {{ service_percentile('case when is_resolved then full_resolution_minutes end', 0.5) }}
            as full_resolution_minutes_median_solved,
        {{ service_percentile('case when is_resolved then full_resolution_minutes end', 0.9) }}
            as full_resolution_minutes_p90_solved,
        sum(case when first_response_breached then 1 else 0 end) as first_response_breaches,
        count(first_response_breached) as first_response_sla_tickets,
        sum(case when resolution_breached then 1 else 0 end) as resolution_breaches,
        count(resolution_breached) as resolution_sla_tickets,
        sum(case when is_reopened then 1 else 0 end) as reopened_tickets,
        sum(case when one_touch then 1 else 0 end) as one_touch_tickets,
        count(satisfaction_score) as rated_tickets,
        sum(satisfaction_score) as satisfaction_score_sum,
        sum(case when is_satisfied then 1 else 0 end) as satisfied_tickets,
        count(case when satisfaction_score is not null then csat_target end) as rated_tickets_with_target,
        sum(case when satisfaction_score is not null and csat_target is not null then satisfaction_score end)
            as satisfaction_score_sum_with_target,
        sum(case when satisfaction_score is not null then csat_target end) as csat_target_sum,
        sum(case when has_feedback then 1 else 0 end) as feedback_count,
        count(distinct master_customer_id) as customers_with_tickets,
        count(distinct churned_master_customer_id) as churned_customers_with_tickets
    from tickets_with_churn
    group by opened_month, category, priority

),

monthly_churn as (

    select
        monthly.*,
        coalesce(
            monthly.opened_month >= churn_measurable.churn_measurable_from
            and monthly.opened_month <= churn_measurable.as_of_month,
            false
        ) as is_churn_measurable
    from monthly
    cross join churn_measurable

)

select
    cast(opened_month as date) as month,
    cast(category as {{ dbt.type_string() }}) as category,
    cast(priority as {{ dbt.type_string() }}) as priority,
    cast(tickets as bigint) as tickets,
    cast(resolved_tickets as bigint) as resolved_tickets,
    cast(round(first_response_minutes_median, 2) as decimal(18, 2)) as first_response_minutes_median,
    cast(round(first_response_minutes_p90, 2) as decimal(18, 2)) as first_response_minutes_p90,
    cast(unresolved_tickets as bigint) as unresolved_tickets,
    cast(round(full_resolution_minutes_median_solved, 2) as decimal(18, 2)) as full_resolution_minutes_median_solved,
    cast(round(full_resolution_minutes_p90_solved, 2) as decimal(18, 2)) as full_resolution_minutes_p90_solved,
    cast(first_response_breaches as bigint) as first_response_breaches,
    {{ sales_ratio('first_response_breaches', 'first_response_sla_tickets') }} as first_response_breach_rate,
    cast(resolution_breaches as bigint) as resolution_breaches,
    {{ sales_ratio('resolution_breaches', 'resolution_sla_tickets') }} as resolution_breach_rate,
    cast(reopened_tickets as bigint) as reopened_tickets,
    cast(one_touch_tickets as bigint) as one_touch_tickets,
    {{ sales_ratio('one_touch_tickets', 'resolved_tickets') }} as one_touch_rate,
    cast(rated_tickets as bigint) as rated_tickets,
    cast(satisfied_tickets as bigint) as satisfied_tickets,
    {{ service_csat_share_satisfied('satisfied_tickets', 'rated_tickets') }} as csat_share_satisfied,
    {{ service_avg_satisfaction_score('satisfaction_score_sum', 'rated_tickets') }} as avg_satisfaction_score,
    {{ service_avg_satisfaction_score('csat_target_sum', 'rated_tickets_with_target') }} as avg_satisfaction_score_target,
    cast(
        {{ service_avg_satisfaction_score('satisfaction_score_sum_with_target', 'rated_tickets_with_target') }}
        - {{ service_avg_satisfaction_score('csat_target_sum', 'rated_tickets_with_target') }}
        as decimal(18, 2)
    ) as avg_satisfaction_score_vs_target,
    cast(feedback_count as bigint) as feedback_count,
    cast(customers_with_tickets as bigint) as customers_with_tickets,
    case when is_churn_measurable then cast(churned_customers_with_tickets as bigint) end
        as churned_customers_with_tickets,
    case when is_churn_measurable then {{ sales_ratio('churned_customers_with_tickets', 'customers_with_tickets') }} end
        as churn_rate_customers_with_tickets
from monthly_churn
