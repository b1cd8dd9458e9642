-- Sales opportunities with the Salesforce-style status: won / lost / pipeline (from the is_closed and
-- is_won flags, as the Fivetran salesforce package does), when they closed, days to close for closed ones,
-- and a flag telling whether the stage agrees with the flags.
-- closed_at = the moment the opportunity became closed: the updated_at of the version in which is_closed
-- became true (int_opportunity_closings) when an open version was delivered before; for one that arrived
-- already closed, its close_date when that is on or before as_of; otherwise (a closed deal dated after
-- as_of, or without a date) the data issue is flagged (is_closed_at_clamped) and closed_at is clamped to
-- the first delivery of the closed version, at most as_of. Never after as_of.
-- stage_probability: the default win probability of the stage (seed opportunity_stage_probabilities; the
-- extract carries no probability); expected_amount = round(amount * stage_probability, 2), Salesforce's
-- "expected revenue", per opportunity so that weighted pipeline sums add up to the cent at any grain.
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

closings as (

    select
        opportunity_id,
        first_seen_at,
        closed_version_at,
        was_seen_open
    from {{ ref('int_opportunity_closings') }}

),

as_of as (

    select as_of_date from {{ ref('int_customer_as_of') }}

),

stage_probabilities as (

    select
        stage,
        stage_probability
    from {{ ref('opportunity_stage_probabilities') }}

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

),

closed as (

    select
        classified.*,
        case
            when not classified.is_closed then null
            when closings.was_seen_open and closings.closed_version_at is not null
                and cast(closings.closed_version_at as date) <= as_of.as_of_date then 'stage_change'
            when not coalesce(closings.was_seen_open, false)
                and classified.close_date <= as_of.as_of_date then 'close_date'
            else 'clamped'
        end as closed_at_source,
        coalesce(closings.closed_version_at, closings.first_seen_at, classified.updated_at) as recorded_closed_at,
        as_of.as_of_date
    from classified
    left join closings
        on classified.opportunity_id = closings.opportunity_id
    cross join as_of

),

timed as (

    select
        closed.*,
        case closed_at_source
            when 'stage_change' then recorded_closed_at
            when 'close_date' then cast(close_date as {{ dbt.type_timestamp() }})
            when 'clamped' then
                case
                    when recorded_closed_at is not null and cast(recorded_closed_at as date) <= as_of_date
                        then recorded_closed_at
                    else cast(as_of_date as {{ dbt.type_timestamp() }})
                end
        end as closed_at
    from closed

)

select
    cast(classified.opportunity_id as {{ dbt.type_string() }}) as opportunity_id,
    cast(classified.customer_id as {{ dbt.type_string() }}) as customer_id,
    cast(coalesce(id_map.master_customer_id, classified.customer_id) as {{ dbt.type_string() }}) as master_customer_id,
    cast(classified.rep_id as {{ dbt.type_string() }}) as rep_id,
    cast(classified.created_at as {{ dbt.type_timestamp() }}) as created_at,
    cast(classified.stage as {{ dbt.type_string() }}) as stage,
    cast(classified.amount as {{ type_money() }}) as amount,
    cast(stage_probabilities.stage_probability as decimal(5, 4)) as stage_probability,
    cast(round(classified.amount * stage_probabilities.stage_probability, 2) as {{ type_money() }}) as expected_amount,
    cast(classified.close_date as date) as close_date,
    cast(classified.is_closed as boolean) as is_closed,
    cast(classified.is_won as boolean) as is_won,
    cast(classified.status as {{ dbt.type_string() }}) as status,
    cast(classified.closed_at as {{ dbt.type_timestamp() }}) as closed_at,
    cast(classified.closed_at_source as {{ dbt.type_string() }}) as closed_at_source,
    cast(coalesce(classified.closed_at_source = 'clamped', false) as boolean) as is_closed_at_clamped,
    cast({{ sales_month_start('classified.closed_at') }} as date) as closed_month,
    cast(
        {{ dbt.datediff('cast(classified.created_at as date)', 'cast(classified.closed_at as date)', 'day') }}
        as integer
    ) as days_to_close,
    cast(classified.is_stage_consistent as boolean) as is_stage_consistent,
    cast(classified.updated_at as {{ dbt.type_timestamp() }}) as updated_at
from timed as classified
left join id_map
    on classified.customer_id = id_map.customer_id
left join stage_probabilities
    on classified.stage = stage_probabilities.stage
