-- The site's own customer columns (crm.yml passthrough.customers, orchestration/passthrough.py): extra
-- columns of the customers extract that the contract does not know, kept by the loader in extra_fields and
-- promoted here to typed columns. Grain: one row per master_customer_id of dim_customers; join 1:1.
-- Golden-record rule as dim_customers: each column from the most recently updated source record of the
-- group that has a value for it (updated_at desc, then customer_id desc). A value that does not cast to
-- the configured type is NULL here and stays as text in stg_crm__customers.extra_fields.
-- Without passthrough columns configured the table holds master_customer_id only.
{%- set columns = passthrough_aliases('customers') %}
with

id_map as (

    select customer_id, master_customer_id from {{ ref('int_customer_id_map') }}

),

source_values as (

    select
        {{ passthrough_select('customers', 'customers.extra_fields') }}
        id_map.master_customer_id,
        customers.customer_id,
        customers.updated_at
    from {{ ref('stg_crm__customers') }} as customers
    inner join id_map
        on customers.customer_id = id_map.customer_id

),

golden as (

    select
        {% for column in columns -%}
        arg_max({{ column }}, struct_pack(updated_at := updated_at, customer_id := customer_id))
            filter (where {{ column }} is not null) as {{ column }},
        {% endfor -%}
        master_customer_id
    from source_values
    group by master_customer_id

)

select
    dim.master_customer_id,
    {% for column in columns -%}
    golden.{{ column }},
    {% endfor -%}
    dim.as_of_date
from {{ ref('dim_customers') }} as dim
left join golden
    on dim.master_customer_id = golden.master_customer_id
