-- Identity-matching keys per current source customer (work file only: the keys are personal data).
-- Grain: one row per customer_id of stg_crm__customers.
--   email_key      normalised email, null when missing or generic (info@, sales@ ...: never a person)
--   phone_key      national phone, digits only (phone_normalized with a '+' of foreign numbers dropped)
--   name_key       name_normalized (full-width folded, whitespace removed, lower-cased)
-- Two customers are linked when email_key is equal, or when phone_key AND name_key are both equal.
with

customers as (

    select
        customer_id,
        email,
        phone_normalized,
        name_normalized
    from {{ ref('stg_crm__customers') }}

),

keyed as (

    select
        customer_id,
        case
            when email is not null and not {{ customer_is_generic_email('email') }} then email
        end as email_key,
        nullif({{ regexp_replace_all('phone_normalized', '[^0-9]', '') }}, '') as phone_key,
        name_normalized as name_key
    from customers

)

select
    customer_id,
    email_key,
    phone_key,
    name_key
from keyed
