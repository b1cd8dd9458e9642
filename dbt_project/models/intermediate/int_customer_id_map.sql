{{ config(materialized='table') }}
-- Identity resolution: every current source customer -> its master customer id.
-- Grain: one row per customer_id of stg_crm__customers.
--
-- Customers are linked by a shared email_key, or by a shared (phone_key, name_key) pair (see
-- int_identity_match_keys); a person is a connected component of those links, and its master id is the
-- smallest source customer_id in the component. The transitive closure is computed portably by min-label
-- propagation: every customer starts with its own id as label, and each round replaces the label by the
-- smallest label found in any match group the customer belongs to (window mins over the group keys, so a
-- round is linear in the rows, never a self-join over pairs). A fixed number of rounds
-- (customer_identity_rounds()) is enough for real data (components are one or two hops wide); the singular
-- test customer_id_map_converged fails loudly if a component ever needs more.
{%- set rounds = customer_identity_rounds() %}
with

keys as (

    select
        customer_id,
        email_key,
        phone_key,
        name_key
    from {{ ref('int_identity_match_keys') }}

),

round_0 as (

    select
        customer_id,
        email_key,
        phone_key,
        name_key,
        customer_id as label
    from keys

),
{% for i in range(1, rounds + 1) %}
round_{{ i }}_groups as (

    select
        customer_id,
        email_key,
        phone_key,
        name_key,
        label,
        case
            when email_key is not null then min(label) over (partition by email_key)
        end as email_group_label,
        case
            when phone_key is not null and name_key is not null
                then min(label) over (partition by phone_key, name_key)
        end as phone_name_group_label
    from round_{{ i - 1 }}

),

round_{{ i }} as (

    select
        customer_id,
        email_key,
        phone_key,
        name_key,
        case
            when email_group_label < label and (phone_name_group_label is null or email_group_label <= phone_name_group_label)
                then email_group_label
            when phone_name_group_label < label
                then phone_name_group_label
            else label
        end as label
    from round_{{ i }}_groups

),
{% endfor %}
final as (

    select
        customer_id,
        label as master_customer_id
    from round_{{ rounds }}

)

select
    customer_id,
    master_customer_id
from final
