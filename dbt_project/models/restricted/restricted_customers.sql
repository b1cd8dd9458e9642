{{ config(schema='restricted', materialized='table') }}
-- Full personal data of every current source customer, for the few who are allowed to see it.
-- Grain: one row per source customer_id (as stg_crm__customers), with its master customer id.
--
-- This is the only relation outside staging that holds plaintext personal data. It lives in the
-- `restricted` schema of the private work file and is published only with an explicit opt-in
-- (CRM_PUBLISH_RESTRICTED=1, see orchestration/serving/publish.py); every other BI-facing table carries
-- masked values and keyed hashes only. `crm-warehouse forget` erases its rows like everywhere else.
with

customers as (

    select
        customer_id,
        name,
        email,
        phone,
        phone_normalized,
        address,
        birth_date,
        updated_at
    from {{ ref('stg_crm__customers') }}

),

id_map as (

    select
        customer_id,
        master_customer_id
    from {{ ref('int_customer_id_map') }}

),

final as (

    select
        id_map.master_customer_id,
        customers.customer_id,
        customers.name,
        customers.email,
        customers.phone,
        customers.phone_normalized,
        customers.address,
        customers.birth_date,
        customers.updated_at
    from customers
    inner join id_map
        on customers.customer_id = id_map.customer_id

)

select
    master_customer_id,
    customer_id,
    name,
    email,
    phone,
    phone_normalized,
    address,
    birth_date,
    updated_at
from final
