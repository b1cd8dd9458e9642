-- Sales opportunities with the Salesforce-style status: won / lost / pipeline (from the is_closed and
-- is_won flags, as the Fivetran salesforce package does), days to close for closed ones, and a flag
-- telling whether the stage agrees with the flags.
-- Grain: one row per opportunity_id (current, non-deleted opportunities).
with

opportunities as (

    select
        opportunity_id,
        customer_id,
        rep_id,
        created_at,
        stage,
        amount,
        close_date,
        coalesce(is_closed, false) as is_closed,
        coalesce(is_won, false) as is_won,
        updated_at
    from {{ ref('stg_crm__opportunities') }}

),

id_map as (

    select
        customer_id,
        master_customer_id
    from {{ ref('int_customer_id_map') }}

),

classified as (

    select
        opportunities.*,
        case
            when is_won then 'won'
            when is_closed then 'lost'
            else 'pipeline'
        end as status,
        case
            when stage = 'closed_won' then is_closed and is_won
            when stage = 'closed_lost' then is_closed and not is_won
            else not is_closed and not is_won
        end as is_stage_consistent
    from opportunities

)

select
    cast(classified.opportunity_id as {{ dbt.type_string() }}) as opportunity_id,
    cast(classified.customer_id as {{ dbt.type_string() }}) as customer_id,
    cast(coalesce(id_map.master_customer_id, classified.customer_id) as {{ dbt.type_string() }}) as master_customer_id,
    cast(classified.rep_id as {{ dbt.type_string() }}) as rep_id,
    cast(classified.created_at as {{ dbt.type_timestamp() }}) as created_at,
    cast(classified.stage as {{ dbt.type_string() }}) as stage,
    cast(classified.amount as {{ type_money() }}) as amount,
    cast(classified.close_date as date) as close_date,
    cast(classified.is_closed as boolean) as is_closed,
    cast(classified.is_won as boolean) as is_won,
    cast(classified.status as {{ dbt.type_string() }}) as status,
    cast(case when classified.is_closed then {{ sales_month_start('classified.close_date') }} end as date) as closed_month,
    cast(
        case
            when classified.is_closed
                then {{ dbt.datediff('cast(classified.created_at as date)', 'classified.close_date', 'day') }}
        end as integer
    ) as days_to_close,
    cast(classified.is_stage_consistent as boolean) as is_stage_consistent,
    cast(classified.updated_at as {{ dbt.type_timestamp() }}) as updated_at
from classified
left join id_map
    on classified.customer_id = id_map.customer_id
