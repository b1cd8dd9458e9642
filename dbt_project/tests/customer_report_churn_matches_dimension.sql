{{ config(meta={'dagster': {'ref': {'name': 'rpt_customer'}}}) }}
-- The month of as_of in rpt_customer counts exactly the churned customers of dim_customers, per source
-- (one churn rule, evaluated at the same date). Returns the sources that disagree. Only when churn is
-- measurable in that month (rpt_customer.is_churn_measurable): before it the report publishes NULL churn
-- on purpose (a short history, e.g. an imported sample), and there is nothing to compare.
with

last_month as (

    select max(month) as month
    from {{ ref('rpt_customer') }}

),

measurable as (

    select month
    from {{ ref('rpt_customer') }}
    where month = (select month from last_month)
        and is_churn_measurable
    group by month

),

dimension as (

    select coalesce(source, 'unknown') as source, count(*) as churned
    from {{ ref('dim_customers') }}
    where is_churned and first_created_at is not null
        and exists (select 1 from measurable)
    group by coalesce(source, 'unknown')

),

report as (

    select source, customers_churned_total as churned
    from {{ ref('rpt_customer') }}
    where month in (select month from measurable)

)

select
    coalesce(dimension.source, report.source) as source,
    dimension.churned as dimension_churned,
    report.churned as report_churned
from dimension
full outer join report
    on dimension.source = report.source
where coalesce(dimension.churned, 0) <> coalesce(report.churned, 0)
