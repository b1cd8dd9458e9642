-- Sales reps of the current snapshot. Rep names are personal data and stay in the work file
-- (stg_crm__sales_reps): the published dimension carries the id, region, team and hire date, and the name
-- only as a masked display value, rep_name_masked = first character + '*' ('王伟' -> '王*'), the rule of
-- the customers' name_masked (int_customer_pii_tokens.mask_name) on the same staged name (full-width
-- folded, whitespace collapsed and trimmed; null when blank). Not unique: rep_id stays the key and label.
-- Grain: one row per rep_id.
with

reps as (

    select
        rep_id,
        name,
        region,
        team,
        hired_at
    from {{ ref('stg_crm__sales_reps') }}

)

select
    cast(rep_id as {{ dbt.type_string() }}) as rep_id,
    cast(
        case when name is not null then {{ dbt.concat(["substring(name, 1, 1)", "'*'"]) }} end
        as {{ dbt.type_string() }}
    ) as rep_name_masked,
    cast(region as {{ dbt.type_string() }}) as region,
    cast(team as {{ dbt.type_string() }}) as team,
    cast(hired_at as date) as hired_at
from reps
