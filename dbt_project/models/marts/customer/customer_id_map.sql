-- Published identity map: every current source customer id and the master customer id it resolves to.
-- Grain: one row per source customer_id.
with

id_map as (

    select
        customer_id,
        master_customer_id
    from {{ ref('int_customer_id_map') }}

),

group_sizes as (

    select
        master_customer_id,
        count(*) as records_in_group
    from id_map
    group by master_customer_id

)

select
    id_map.customer_id,
    id_map.master_customer_id,
    id_map.customer_id = id_map.master_customer_id as is_master,
    cast(group_sizes.records_in_group as integer) as records_in_group
from id_map
inner join group_sizes
    on id_map.master_customer_id = group_sizes.master_customer_id
