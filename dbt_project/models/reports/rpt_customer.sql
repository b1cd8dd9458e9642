-- Customer report. Grain: one row per calendar month x acquisition source (dim_customers.source;
-- 'unknown' when missing), from the month of the first customer to the month of as_of; every month x
-- source combination has a row (zeros when nothing happened).
--
-- Period end = the last day of the month, or as_of for the month of as_of (the run's logical date).
-- Engagement = a completed order or a behaviour event (the activity the churn rule looks at). Engagement
-- and churn per customer and month come from the one churn definition, intermediate.int_customer_churn_by_month
-- (the rule dim_customers publishes at as_of), evaluated at each period end.
--   customers_total          customers created on or before the period end
--   customers_new            customers created in the month
--   customers_active         customers with an engagement in the month
--   is_churn_measurable      the month's churn can be known: the 180-day windows ending on the previous
--                            month end and on the period end lie inside the activity data (month start >=
--                            first engagement of the data set + 180 days); false before: churn is NULL then
--   customers_churned_total  customers churned at the period end: created and without engagement in the
--                            180 days ending on the period end (for the month of as_of it equals
--                            count(is_churned) in dim_customers); NULL when not measurable
--   customers_churned        customers who became churned during the month (churned at this period end,
--                            not at the previous one); NULL when not measurable
--   needs: tickets opened in the month and their most frequent category; behaviour events in the month
--   and the most frequent product category (ties broken alphabetically)
--   satisfaction: rated_tickets (tickets opened in the month with a score) and avg_satisfaction_score,
--   their mean 1-5 score (service_avg_satisfaction_score, the same measure as in rpt_service)
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

customers as (

    select
        master_customer_id,
        coalesce(source, 'unknown') as source,
        {{ customer_to_date('coalesce(first_created_at, first_activity_at)') }} as customer_since
    from {{ ref('dim_customers') }}
    where coalesce(first_created_at, first_activity_at) is not null

),

month_numbers as (

    {{ dbt.generate_series(1200) }}

),

months as (

    select
        {{ customer_to_date(dbt.dateadd('month', 'month_numbers.generated_number - 1', 'first_month.month_start')) }}
            as month_start
    from month_numbers
    cross join (
        select {{ customer_to_date(dbt.date_trunc('month', 'min(customer_since)')) }} as month_start
        from customers
    ) as first_month

),

periods as (

    select
        months.month_start,
        case
            when months.month_start = as_of.as_of_month then as_of.as_of_date
            else {{ customer_date_add_days(-1, customer_to_date(dbt.dateadd('month', 1, 'months.month_start'))) }}
        end as period_end
    from months
    cross join as_of
    where months.month_start <= as_of.as_of_month

),

churn as (

    select
        master_customer_id,
        month_start,
        is_engaged_in_month,
        is_churned,
        is_newly_churned
    from {{ ref('int_customer_churn_by_month') }}

),

churn_measurable as (

    select max(churn_measurable_from) as churn_measurable_from
    from {{ ref('int_customer_churn_by_month') }}

),

customer_months as (

    select
        customers.master_customer_id,
        customers.source,
        customers.customer_since,
        periods.month_start,
        periods.period_end,
        coalesce(churn.is_engaged_in_month, false) as is_engaged_in_month,
        coalesce(churn.is_churned, false) as is_churned_at_end,
        coalesce(churn.is_newly_churned, false) as is_newly_churned
    from customers
    inner join periods
        on periods.period_end >= customers.customer_since
    left join churn
        on customers.master_customer_id = churn.master_customer_id
        and periods.month_start = churn.month_start

),

customer_counts as (

    select
        month_start,
        source,
        count(*) as customers_total,
        sum(case when customer_since >= month_start then 1 else 0 end) as customers_new,
        sum(case when is_engaged_in_month then 1 else 0 end) as customers_active,
        sum(case when is_churned_at_end then 1 else 0 end) as customers_churned_total,
        sum(case when is_newly_churned then 1 else 0 end) as customers_churned
    from customer_months
    group by month_start, source

),

tickets as (

    select
        customers.source,
        {{ customer_to_date(dbt.date_trunc('month', 'tickets.opened_at')) }} as month_start,
        tickets.category,
        tickets.satisfaction_score
    from {{ ref('stg_crm__service_tickets') }} as tickets
    inner join id_map on tickets.customer_id = id_map.customer_id
    inner join customers on id_map.master_customer_id = customers.master_customer_id

),

ticket_counts as (

    select
        month_start,
        source,
        count(*) as tickets_opened,
        count(satisfaction_score) as rated_tickets,
        sum(satisfaction_score) as satisfaction_score_sum
    from tickets
    group by month_start, source

),

ticket_categories as (

    select
        month_start,
        source,
        category,
        row_number() over (
            partition by month_start, source order by count(*) desc, category asc
        ) as category_rank
    from tickets
    where category is not null
    group by month_start, source, category

),

behavior as (

    select
        customers.source,
        {{ customer_to_date(dbt.date_trunc('month', 'events.occurred_at')) }} as month_start,
        products.category
    from {{ ref('int_customer_behavior_events') }} as events
    inner join id_map on events.customer_id = id_map.customer_id
    inner join customers on id_map.master_customer_id = customers.master_customer_id
    left join {{ ref('stg_crm__products') }} as products on events.product_id = products.product_id
    where events.is_deleted = false

),

behavior_counts as (

    select
        month_start,
        source,
        count(*) as behavior_events
    from behavior
    group by month_start, source

),

behavior_categories as (

    select
        month_start,
        source,
        category,
        row_number() over (
            partition by month_start, source order by count(*) desc, category asc
        ) as category_rank
    from behavior
    where category is not null
    group by month_start, source, category

),

grid as (

    select
        periods.month_start,
        periods.period_end,
        sources.source,
        coalesce(periods.month_start >= churn_measurable.churn_measurable_from, false) as is_churn_measurable
    from periods
    cross join (select distinct source from customers) as sources
    cross join churn_measurable

)

select
    grid.month_start as month,
    grid.source,
    grid.period_end,
    cast(coalesce(customer_counts.customers_total, 0) as integer) as customers_total,
    cast(coalesce(customer_counts.customers_new, 0) as integer) as customers_new,
    cast(coalesce(customer_counts.customers_active, 0) as integer) as customers_active,
    grid.is_churn_measurable,
    case when grid.is_churn_measurable
        then cast(coalesce(customer_counts.customers_churned, 0) as integer) end as customers_churned,
    case when grid.is_churn_measurable
        then cast(coalesce(customer_counts.customers_churned_total, 0) as integer) end as customers_churned_total,
    cast(coalesce(ticket_counts.tickets_opened, 0) as integer) as tickets_opened,
    ticket_categories.category as top_ticket_category,
    cast(coalesce(behavior_counts.behavior_events, 0) as integer) as behavior_events,
    behavior_categories.category as top_behavior_category,
    cast(coalesce(ticket_counts.rated_tickets, 0) as integer) as rated_tickets,
    cast(
        {{ service_avg_satisfaction_score('ticket_counts.satisfaction_score_sum', 'ticket_counts.rated_tickets') }}
        as decimal(9, 2)
    ) as avg_satisfaction_score
from grid
left join customer_counts
    on grid.month_start = customer_counts.month_start and grid.source = customer_counts.source
left join ticket_counts
    on grid.month_start = ticket_counts.month_start and grid.source = ticket_counts.source
left join ticket_categories
    on grid.month_start = ticket_categories.month_start and grid.source = ticket_categories.source
    and ticket_categories.category_rank = 1
left join behavior_counts
    on grid.month_start = behavior_counts.month_start and grid.source = behavior_counts.source
left join behavior_categories
    on grid.month_start = behavior_categories.month_start and grid.source = behavior_categories.source
    and behavior_categories.category_rank = 1
