-- When each opportunity became closed, from its delta versions in the raw zone (every delivered version,
-- id cleaned like staging, delete tombstones left out): the updated_at of the first closed version after
-- the newest open one (sales_became_true). was_seen_open = an open version was delivered, i.e. the close
-- itself was observed; otherwise the opportunity arrived already closed.
-- Grain: one row per opportunity_id.
with

raw_rows as (

    select * from {{ source('crm', 'opportunities') }}

),

versions as (

    select
        {{ clean_text('opportunity_id') }} as opportunity_id,
        coalesce(is_closed, false) as is_closed,
        updated_at
    from raw_rows
    where not coalesce(is_deleted, false)
        and {{ clean_text('opportunity_id') }} is not null

),

closings as (

    {{ sales_became_true('versions', 'opportunity_id', 'is_closed') }}

)

select
    cast(opportunity_id as {{ dbt.type_string() }}) as opportunity_id,
    cast(first_seen_at as {{ dbt.type_timestamp() }}) as first_seen_at,
    cast(became_at as {{ dbt.type_timestamp() }}) as closed_version_at,
    cast(was_seen_false as boolean) as was_seen_open
from closings
