-- Relationships between resolved customers. Grain: one row per (from_master_customer_id,
-- to_master_customer_id, relationship_type): a directed edge between master customers.
-- Source edges (current, non-deleted versions) have both ends mapped to master ids through the current
-- identity map; several source edges between duplicates of the same two persons collapse into one (since =
-- the earliest, source_edge_count counts them). Edges whose two ends resolve to the same person
-- (a duplicate "related" to itself) and edges to a customer that is not current (deleted) are dropped.
with

edges as (

    select
        from_customer_id,
        to_customer_id,
        relationship_type,
        since
    from {{ ref('stg_crm__customer_relationships') }}

),

id_map as (

    select customer_id, master_customer_id from {{ ref('int_customer_id_map') }}

),

mapped as (

    select
        from_map.master_customer_id as from_master_customer_id,
        to_map.master_customer_id as to_master_customer_id,
        edges.relationship_type,
        edges.since
    from edges
    inner join id_map as from_map
        on edges.from_customer_id = from_map.customer_id
    inner join id_map as to_map
        on edges.to_customer_id = to_map.customer_id
    where from_map.master_customer_id <> to_map.master_customer_id

)

select
    from_master_customer_id,
    to_master_customer_id,
    relationship_type,
    min(since) as since,
    cast(count(*) as integer) as source_edge_count
from mapped
group by from_master_customer_id, to_master_customer_id, relationship_type
