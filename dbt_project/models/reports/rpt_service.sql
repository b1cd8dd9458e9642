-- Monthly customer-service performance by ticket category and priority: volume, first-response and
-- full-resolution times (median and p90, minutes), SLA breach rates, reopens, one-touch resolution,
-- CSAT, feedback counts and churn among the customers who opened the tickets (dim_customers.is_churned,
-- the customer domain's churn rule at the run's as_of date).
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
        resolution_minutes,
        first_response_breached,
        resolution_breached,
        is_reopened,
        one_touch,
        satisfaction_score,
        is_satisfied,
        has_feedback
    from {{ ref('fct_tickets') }}

),

customers as (

    select
        master_customer_id,
        is_churned
    from {{ ref('dim_customers') }}

),

tickets_with_churn as (

    select
        tickets.*,
        case when customers.is_churned then tickets.master_customer_id end as churned_master_customer_id
    from tickets
    left join customers
        on tickets.master_customer_id = customers.master_customer_id

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
        {{ service_percentile('resolution_minutes', 0.5) }} as resolution_minutes_median,
        {{ service_percentile('resolution_minutes', 0.9) }} as resolution_minutes_p90,
        sum(case when first_response_breached then 1 else 0 end) as first_response_breaches,
        count(first_response_breached) as first_response_sla_tickets,
        sum(case when resolution_breached then 1 else 0 end) as resolution_breaches,
        count(resolution_breached) as resolution_sla_tickets,
        sum(case when is_reopened then 1 else 0 end) as reopened_tickets,
        sum(case when one_touch then 1 else 0 end) as one_touch_tickets,
        count(satisfaction_score) as rated_tickets,
        sum(satisfaction_score) as satisfaction_score_sum,
        sum(case when is_satisfied then 1 else 0 end) as satisfied_tickets,
        sum(case when has_feedback then 1 else 0 end) as feedback_count,
        count(distinct master_customer_id) as customers_with_tickets,
        count(distinct churned_master_customer_id) as churned_customers_with_tickets
    from tickets_with_churn
    group by opened_month, category, priority

)

select
    cast(opened_month as date) as month,
    cast(category as {{ dbt.type_string() }}) as category,
    cast(priority as {{ dbt.type_string() }}) as priority,
    cast(tickets as bigint) as tickets,
    cast(resolved_tickets as bigint) as resolved_tickets,
    cast(round(first_response_minutes_median, 2) as decimal(18, 2)) as first_response_minutes_median,
    cast(round(first_response_minutes_p90, 2) as decimal(18, 2)) as first_response_minutes_p90,
    cast(round(resolution_minutes_median, 2) as decimal(18, 2)) as resolution_minutes_median,
    cast(round(resolution_minutes_p90, 2) as decimal(18, 2)) as resolution_minutes_p90,
    cast(first_response_breaches as bigint) as first_response_breaches,
    {{ sales_ratio('first_response_breaches', 'first_response_sla_tickets') }} as first_response_breach_rate,
    cast(resolution_breaches as bigint) as resolution_breaches,
    {{ sales_ratio('resolution_breaches', 'resolution_sla_tickets') }} as resolution_breach_rate,
    cast(reopened_tickets as bigint) as reopened_tickets,
    cast(one_touch_tickets as bigint) as one_touch_tickets,
    {{ sales_ratio('one_touch_tickets', 'resolved_tickets') }} as one_touch_rate,
    cast(rated_tickets as bigint) as rated_tickets,
    {{ sales_ratio('satisfaction_score_sum', 'rated_tickets', 2) }} as avg_satisfaction_score,
    {{ sales_ratio('satisfied_tickets', 'rated_tickets') }} as csat,
    cast(feedback_count as bigint) as feedback_count,
    cast(customers_with_tickets as bigint) as customers_with_tickets,
    cast(churned_customers_with_tickets as bigint) as churned_customers_with_tickets,
    {{ sales_ratio('churned_customers_with_tickets', 'customers_with_tickets') }} as churn_rate_customers_with_tickets
from monthly
