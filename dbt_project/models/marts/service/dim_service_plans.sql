-- SLA plans per ticket priority with their validity interval: a plan applies from valid_from (inclusive)
-- until the next plan of the same priority starts (valid_to, exclusive; null = still open-ended).
-- Grain: one row per priority, valid_from.
with

plans as (

    select
        priority,
        valid_from,
        first_response_target_minutes,
        resolution_target_hours,
        csat_target
    from {{ ref('stg_crm__service_plans') }}

),

intervals as (

    select
        plans.*,
        lead(valid_from) over (partition by priority order by valid_from) as valid_to
    from plans

)

select
    cast(priority as {{ dbt.type_string() }}) as priority,
    cast(valid_from as date) as valid_from,
    cast(valid_to as date) as valid_to,
    cast(
        valid_from <= {{ service_as_of() }} and (valid_to is null or valid_to > {{ service_as_of() }})
        as boolean
    ) as is_current,
    cast(first_response_target_minutes as integer) as first_response_target_minutes,
    cast(resolution_target_hours as integer) as resolution_target_hours,
    cast(resolution_target_hours * 60 as integer) as resolution_target_minutes,
    cast(csat_target as decimal(9, 4)) as csat_target
from intervals
