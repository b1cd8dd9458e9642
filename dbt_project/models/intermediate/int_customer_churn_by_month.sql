{{ config(materialized='table') }}
-- The churn definition, in one place. Grain: one row per master_customer_id x calendar month, from the
-- month the customer's churn clock can start (the earlier of its first created date and its first
-- engagement; the month of as_of when it has neither) to the month of as_of.
--
-- Reads int_customer_as_of, int_customer_id_map, stg_crm__customers (created_at), stg_crm__orders
-- (completed) and int_customer_behavior_events (not deleted). Used by marts.dim_customers (the as_of row),
-- reports.rpt_customer (every month) and reports.rpt_service (the ticket's month).
--
-- Period end = the month's last day, or as_of for the month of as_of. Engagement = a completed order
-- (order_date) or a behaviour event (occurred_at) on or before as_of. Rule (churn window =
-- customer_churn_days() = 180 days): churned at the period end when the customer had no engagement in the
-- 180 calendar days ending on it and was created before them: churned_on = (the later of the first created
-- date and the last engagement on or before the period end) + 180 days, is_churned = churned_on <= period
-- end. Newly churned in the month = churned at its end and not at the previous month's end, i.e. churned_on
-- falls in the month.
--
-- Measurability (month-level, the same on every customer's row): the rule needs the 180 days before the
-- period end. Before the first engagement date of the data set (activity history start) nothing is known,
-- so a month's churn is measurable only when the windows ending on the previous month's end and on its own
-- end both lie inside the activity data: month_start >= first engagement date + 180 days
-- (churn_measurable_from = the first such month start). is_churned itself is evaluated on every row (dim
-- publishes it at as_of); the reports turn non-measurable months into NULL.
{%- set churn_days = customer_churn_days() %}
with

as_of as (

    select
        as_of_date,
        {{ customer_to_date(dbt.date_trunc('month', 'as_of_date')) }} as as_of_month
    from {{ ref('int_customer_as_of') }}

),

id_map as (

    select customer_id, master_customer_id from {{ ref('int_customer_id_map') }}

),

created as (

    select
        id_map.master_customer_id,
        min({{ customer_to_date('customers.created_at') }}) as created_date
    from id_map
    inner join {{ ref('stg_crm__customers') }} as customers
        on id_map.customer_id = customers.customer_id
    group by id_map.master_customer_id

),

-- every engagement of the data set up to as_of, on its SOURCE customer id (deleted customers included:
-- they belong to the activity history)
engagements as (

    select source_engagements.customer_id, source_engagements.engaged_on
    from (
        select
            orders.customer_id,
            {{ customer_to_date('orders.order_date') }} as engaged_on
        from {{ ref('stg_crm__orders') }} as orders
        where orders.status = 'completed'
        union all
        select
            events.customer_id,
            {{ customer_to_date('events.occurred_at') }} as engaged_on
        from {{ ref('int_customer_behavior_events') }} as events
        where events.is_deleted = false
    ) as source_engagements
    cross join as_of
    where source_engagements.engaged_on <= as_of.as_of_date

),

measurable as (

    select
        case
            when first_month_after = measurable_date then first_month_after
            else {{ customer_to_date(dbt.dateadd('month', 1, 'first_month_after')) }}
        end as churn_measurable_from
    from (
        select
            measurable_date,
            {{ customer_to_date(dbt.date_trunc('month', 'measurable_date')) }} as first_month_after
        from (
            select {{ customer_date_add_days(churn_days, 'min(engaged_on)') }} as measurable_date
            from engagements
        ) as first_engagement
    ) as window_end

),

monthly_engagement as (

    select
        id_map.master_customer_id,
        {{ customer_to_date(dbt.date_trunc('month', 'engagements.engaged_on')) }} as month_start,
        max(engagements.engaged_on) as last_engaged_in_month_on
    from engagements
    inner join id_map
        on engagements.customer_id = id_map.customer_id
    group by
        id_map.master_customer_id,
        {{ customer_to_date(dbt.date_trunc('month', 'engagements.engaged_on')) }}

),

customers as (

    select
        created.master_customer_id,
        created.created_date,
        coalesce(
            {{ customer_to_date(dbt.date_trunc('month',
                customer_least_date('created.created_date', 'first_engagement.first_month'))) }},
            as_of.as_of_month
        ) as start_month
    from created
    cross join as_of
    left join (
        select master_customer_id, min(month_start) as first_month
        from monthly_engagement
        group by master_customer_id
    ) as first_engagement
        on created.master_customer_id = first_engagement.master_customer_id

),

month_numbers as (

    {{ dbt.generate_series(1200) }}

),

periods as (

    select
        months.month_start,
        case
            when months.month_start = as_of.as_of_month then as_of.as_of_date
            else {{ customer_date_add_days(-1, customer_to_date(dbt.dateadd('month', 1, 'months.month_start'))) }}
        end as period_end
    from (
        select
            {{ customer_to_date(dbt.dateadd('month', 'month_numbers.generated_number - 1', 'first_month.month_start')) }}
                as month_start
        from month_numbers
        cross join (select min(start_month) as month_start from customers) as first_month
    ) as months
    cross join as_of
    where months.month_start <= as_of.as_of_month

),

customer_months as (

    select
        customers.master_customer_id,
        customers.created_date,
        periods.month_start,
        periods.period_end,
        monthly_engagement.last_engaged_in_month_on
    from customers
    inner join periods
        on periods.month_start >= customers.start_month
    left join monthly_engagement
        on customers.master_customer_id = monthly_engagement.master_customer_id
        and periods.month_start = monthly_engagement.month_start

),

running as (

    select
        customer_months.*,
        max(last_engaged_in_month_on) over (
            partition by master_customer_id
            order by month_start
            rows between unbounded preceding and current row
        ) as last_engagement_date
    from customer_months

),

ruled as (

    select
        running.*,
        {{ customer_date_add_days(churn_days, customer_greatest_date('created_date', 'last_engagement_date')) }}
            as churn_date
    from running

)

select
    ruled.master_customer_id,
    ruled.month_start,
    ruled.period_end,
    ruled.last_engaged_in_month_on is not null as is_engaged_in_month,
    ruled.last_engagement_date,
    case when ruled.churn_date <= ruled.period_end then ruled.churn_date end as churned_on,
    coalesce(ruled.churn_date <= ruled.period_end, false) as is_churned,
    coalesce(ruled.churn_date <= ruled.period_end and ruled.churn_date >= ruled.month_start, false)
        as is_newly_churned,
    coalesce(ruled.month_start >= measurable.churn_measurable_from, false) as is_churn_measurable,
    measurable.churn_measurable_from
from ruled
cross join measurable
