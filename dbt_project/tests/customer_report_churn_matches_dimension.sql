{{ config(meta={'dagster': {'ref': {'name': 'rpt_customer'}}}) }}
-- The month of as_of in rpt_customer counts exactly the churned customers of dim_customers, per source
-- (one churn rule, evaluated at the same date). Returns the sources that disagree.
with

dimension as (

    select coalesce(source, 'unknown') as source, count(*) as churned
    from {{ ref('dim_customers') }}
    where is_churned and first_created_at is not null
    group by coalesce(source, 'unknown')

),

report as (

    select source, customers_churned_total as churned
    from {{ ref('rpt_customer') }}
    where month = (select max(month) from {{ ref('rpt_customer') }})

)

select
    coalesce(dimension.source, report.source) as source,
    dimension.churned as dimension_churned,
    report.churned as report_churned
from dimension
full outer join report
    on dimension.source = report.source
where coalesce(dimension.churned, 0) <> coalesce(report.churned, 0)
