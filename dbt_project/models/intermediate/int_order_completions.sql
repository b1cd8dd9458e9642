-- When each order became completed, from its delta versions in the raw zone (every delivered version,
-- cleaned like staging with clean_orders(), delete tombstones left out): the updated_at of the first
-- completed version after the newest version with another status (sales_became_true). The extract contract
-- has no completion timestamp; this is the moment the source system recorded the completed status.
-- Grain: one row per order_id.
with

raw_rows as (

    select * from {{ source('crm', 'orders') }}

),

cleaned as (

    {{ clean_orders('raw_rows') }}

),

versions as (

    select
        order_id,
        coalesce(status = 'completed', false) as is_completed,
        updated_at
    from cleaned
    where not is_deleted
        and order_id is not null

),

completions as (

    {{ sales_became_true('versions', 'order_id', 'is_completed') }}

)

select
    cast(order_id as {{ dbt.type_string() }}) as order_id,
    cast(became_at as {{ dbt.type_timestamp() }}) as completed_version_at,
    cast(was_seen_false as boolean) as was_seen_not_completed
from completions
