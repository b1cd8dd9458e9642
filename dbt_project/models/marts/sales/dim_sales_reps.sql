-- Sales reps of the current snapshot. Rep names are personal data and stay in the work file
-- (stg_crm__sales_reps): the published dimension carries the id, region, team and hire date only.
-- Grain: one row per rep_id.
with

reps as (

    select
        rep_id,
        region,
        team,
        hired_at
    from {{ ref('stg_crm__sales_reps') }}

)

select
    cast(rep_id as {{ dbt.type_string() }}) as rep_id,
    cast(region as {{ dbt.type_string() }}) as region,
    cast(team as {{ dbt.type_string() }}) as team,
    cast(hired_at as date) as hired_at
from reps
