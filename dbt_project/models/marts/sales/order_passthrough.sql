-- The site's own order columns (crm.yml passthrough.orders, orchestration/passthrough.py): extra columns
-- of the orders extract that the contract does not know, kept by the loader in extra_fields and promoted
-- here to typed columns, from the order's latest version. Grain: one row per order_id of fct_orders; join
-- 1:1. A value that does not cast to the configured type is NULL here and stays as text in
-- stg_crm__orders.extra_fields. Without passthrough columns configured the table holds order_id only.
with

latest_orders as (

    select
        {{ passthrough_select('orders', 'orders.extra_fields') }}
        orders.order_id
    from {{ ref('stg_crm__orders') }} as orders

)

select
    fct.order_id
    {%- for column in passthrough_aliases('orders') %},
    latest_orders.{{ column }}
    {%- endfor %}
from {{ ref('fct_orders') }} as fct
left join latest_orders
    on fct.order_id = latest_orders.order_id
