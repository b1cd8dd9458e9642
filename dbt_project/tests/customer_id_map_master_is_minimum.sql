{{ config(meta={'dagster': {'ref': {'name': 'int_customer_id_map'}}}) }}
-- The master id of every group is the smallest source customer_id of the group, and is itself mapped
-- to itself (a master is never mapped to another master).
with

id_map as (

    select customer_id, master_customer_id from {{ ref('int_customer_id_map') }}

),

groups as (

    select master_customer_id, min(customer_id) as smallest_customer_id
    from id_map
    group by master_customer_id

)

select groups.master_customer_id, groups.smallest_customer_id, self_row.master_customer_id as master_of_master
from groups
left join id_map as self_row
    on groups.master_customer_id = self_row.customer_id
where groups.master_customer_id <> groups.smallest_customer_id
    or self_row.master_customer_id is null
    or self_row.master_customer_id <> groups.master_customer_id
