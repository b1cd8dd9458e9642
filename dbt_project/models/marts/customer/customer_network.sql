-- Relationship counts per resolved customer. Grain: one row per master_customer_id (every resolved
-- customer; zeros without relationships). From marts.customer_relationships (edges between master ids).
--   referrals_made      distinct customers this customer referred (referral edges from it)
--   referrals_received  distinct customers who referred this customer (referral edges to it)
--   network_size        distinct customers directly connected by any relationship, either direction
with

customers as (

    select distinct master_customer_id from {{ ref('int_customer_id_map') }}

),

edges as (

    select from_master_customer_id, to_master_customer_id, relationship_type
    from {{ ref('customer_relationships') }}

),

-- each edge seen from both ends
ends as (

    select
        from_master_customer_id as master_customer_id,
        to_master_customer_id as other_customer_id,
        relationship_type,
        'out' as direction
    from edges
    union all
    select
        to_master_customer_id as master_customer_id,
        from_master_customer_id as other_customer_id,
        relationship_type,
        'in' as direction
    from edges

),

per_customer as (

    select
        master_customer_id,
        count(distinct case when relationship_type = 'referral' and direction = 'out' then other_customer_id end)
            as referrals_made,
        count(distinct case when relationship_type = 'referral' and direction = 'in' then other_customer_id end)
            as referrals_received,
        count(*) as relationship_count,
        count(distinct other_customer_id) as network_size
    from ends
    group by master_customer_id

)

select
    customers.master_customer_id,
    cast(coalesce(per_customer.referrals_made, 0) as integer) as referrals_made,
    cast(coalesce(per_customer.referrals_received, 0) as integer) as referrals_received,
    cast(coalesce(per_customer.relationship_count, 0) as integer) as relationship_count,
    cast(coalesce(per_customer.network_size, 0) as integer) as network_size
from customers
left join per_customer
    on customers.master_customer_id = per_customer.master_customer_id
