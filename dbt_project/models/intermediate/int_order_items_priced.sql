-- Current order lines with their money columns: live (not deleted) lines of the deduped layer.
-- gross = quantity * unit_price, net = round(quantity * unit_price * (1 - discount), 2) (line_net_amount,
-- as in stg_crm__order_items), discount_amount = gross - net; all DECIMAL(18,2), exact.
-- Grain: one row per order_id, line_no (lines whose order is missing or deleted included; the marts
-- keep only lines of current orders).
with

items as (

    select
        order_id,
        line_no,
        product_id,
        quantity,
        unit_price,
        discount,
        updated_at
    from {{ ref('int_order_items_deduped') }}
    where not is_deleted

),

priced as (

    select
        order_id,
        line_no,
        product_id,
        quantity,
        unit_price,
        discount,
        cast(cast(quantity as decimal(38, 0)) * unit_price as {{ type_money() }}) as gross_amount,
        {{ line_net_amount('quantity', 'unit_price', 'discount') }} as net_amount,
        updated_at
    from items

)

select
    order_id,
    line_no,
    product_id,
    quantity,
    unit_price,
    discount,
    gross_amount,
    cast(gross_amount - net_amount as {{ type_money() }}) as discount_amount,
    net_amount,
    updated_at
from priced
