{{ config(meta={'dagster': {'ref': {'name': 'int_customer_id_map'}}}) }}
-- Identity resolution converged: no match edge joins two customers with different master ids.
-- Every email group and every (phone, name) group of int_identity_match_keys must map to exactly one
-- master id; a row here means customer_identity_rounds() was too small for some component (raise it).
with

keyed as (

    select
        keys.customer_id,
        keys.email_key,
        keys.phone_key,
        keys.name_key,
        id_map.master_customer_id
    from {{ ref('int_identity_match_keys') }} as keys
    inner join {{ ref('int_customer_id_map') }} as id_map
        on keys.customer_id = id_map.customer_id

),

email_groups as (

    select
        'email' as link_rule,
        min(customer_id) as example_customer_id,
        count(distinct master_customer_id) as master_ids
    from keyed
    where email_key is not null
    group by email_key
    having count(distinct master_customer_id) > 1

),

phone_name_groups as (

    select
        'phone_name' as link_rule,
        min(customer_id) as example_customer_id,
        count(distinct master_customer_id) as master_ids
    from keyed
    where phone_key is not null and name_key is not null
    group by phone_key, name_key
    having count(distinct master_customer_id) > 1

)

select link_rule, example_customer_id, master_ids from email_groups
union all
select link_rule, example_customer_id, master_ids from phone_name_groups
