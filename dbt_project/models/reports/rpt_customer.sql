-- Customer report. Grain: one row per calendar month x acquisition source (dim_customers.source;
-- 'unknown' when missing), from the month of the first customer to the month of as_of; every month x
-- source combination has a row (zeros when nothing happened).
--
-- Period end = the last day of the month, or as_of for the month of as_of (the run's logical date).
-- Engagement = a completed order or a behaviour event (the activity the churn rule looks at).
--   customers_total          customers created on or before the period end
--   customers_new            customers created in the month
--   customers_active         customers with an engagement in the month
--   customers_churned_total  customers churned at the period end: created and without engagement in the
--                            180 days ending on the period end (dim_customers' rule evaluated at that
--                            date; for the month of as_of it equals count(is_churned) in dim_customers)
--   customers_churned        customers who became churned during the month (churned at this period end,
--                            not at the previous one)
--   needs: tickets opened in the month and their most frequent category; behaviour events in the month
--   and the most frequent product category (ties broken alphabetically)
--   satisfaction: rated_tickets (tickets opened in the month with a score) and avg_satisfaction_score,
--   their mean 1-5 score (service_avg_satisfaction_score, the same measure as in rpt_service)
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

engagements as (

    select
        id_map.master_customer_id,
        {{ customer_to_date('orders.order_date') }} as engaged_on
    from {{ ref('stg_crm__orders') }} as orders
    inner join id_map on orders.customer_id = id_map.customer_id
    where orders.status = 'completed'
    union all
    select
        id_map.master_customer_id,
        {{ customer_to_date('events.occurred_at') }} as engaged_on
    from {{ ref('int_customer_behavior_events') }} as events
    inner join id_map on events.customer_id = id_map.customer_id
    where events.is_deleted = false

),

monthly_engagement as (

    select
        engagements.master_customer_id,
        {{ customer_to_date(dbt.date_trunc('month', 'engagements.engaged_on')) }} as month_start,
        max(engagements.engaged_on) as last_engaged_on
    from engagements
    cross join as_of
    where engagements.engaged_on <= as_of.as_of_date
    group by
        engagements.master_customer_id,
        {{ customer_to_date(dbt.date_trunc('month', 'engagements.engaged_on')) }}

),

customer_months as (

    select
        customers.master_customer_id,
        customers.source,
        customers.customer_since,
        periods.month_start,
        periods.period_end,
        monthly_engagement.last_engaged_on as engaged_in_month_on
    from customers
    inner join periods
        on periods.period_end >= customers.customer_since
    left join monthly_engagement
        on customers.master_customer_id = monthly_engagement.master_customer_id
        and periods.month_start = monthly_engagement.month_start

),

customer_status as (

    select
        customer_months.*,
        max(engaged_in_month_on) over (
            partition by master_customer_id
            order by month_start
            rows between unbounded preceding and current row
        ) as last_engaged_on
    from customer_months

),

customer_churn as (

    select
        customer_status.*,
        case
            when {{ customer_date_add_days(churn_days,
                    customer_greatest_date('customer_since', 'last_engaged_on')) }} <= period_end then 1
            else 0
        end as is_churned_at_end
    from customer_status

),

customer_churn_change as (

    select
        customer_churn.*,
        coalesce(
            lag(is_churned_at_end) over (partition by master_customer_id order by month_start), 0
        ) as was_churned_before
    from customer_churn

),

customer_counts as (

    select
        month_start,
        source,
        count(*) as customers_total,
        sum(case when customer_since >= month_start then 1 else 0 end) as customers_new,
        sum(case when engaged_in_month_on is not null then 1 else 0 end) as customers_active,
        sum(is_churned_at_end) as customers_churned_total,
        sum(case when is_churned_at_end = 1 and was_churned_before = 0 then 1 else 0 end) as customers_churned
    from customer_churn_change
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
        sources.source
    from periods
    cross join (select distinct source from customers) as sources

)

select
    grid.month_start as month,
    grid.source,
    grid.period_end,
    cast(coalesce(customer_counts.customers_total, 0) as integer) as customers_total,
    cast(coalesce(customer_counts.customers_new, 0) as integer) as customers_new,
    cast(coalesce(customer_counts.customers_active, 0) as integer) as customers_active,
    cast(coalesce(customer_counts.customers_churned, 0) as integer) as customers_churned,
    cast(coalesce(customer_counts.customers_churned_total, 0) as integer) as customers_churned_total,
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
