-- Current order lines with their money columns in the SITE currency (crm.yml; site_currency_literal()):
-- live (not deleted) lines of the deduped layer. In the order's own currency (source_*): gross =
-- quantity * unit_price, net = round(quantity * unit_price * (1 - discount), 2) (line_net_amount, as in
-- stg_crm__order_items). An order in another currency than the site's is converted with the fx_rates row of
-- its currency valid on the order date (fx_rate = site units per order-currency unit; 1 for the site
-- currency): gross_amount = round(source gross * fx_rate, 2), net_amount = round(source net * fx_rate, 2),
-- unit_price = round(source unit price * fx_rate, 2), discount_amount = gross - net; all DECIMAL(18,2).
-- A foreign-currency line without a rate has fx_rate NULL (the test order_lines_have_an_fx_rate fails).
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

orders as (

    select
        order_id,
        currency,
        {{ customer_to_date('order_date') }} as order_day
    from {{ ref('int_orders_deduped') }}

),

fx_rates as (

    select currency, valid_from, valid_to, rate_to_site
    from {{ ref('stg_crm__fx_rates') }}

),

with_rate as (

    select
        items.*,
        coalesce(orders.currency, {{ site_currency_literal() }}) as source_currency,
        case
            when coalesce(orders.currency, {{ site_currency_literal() }}) = {{ site_currency_literal() }}
                then cast(1 as {{ type_fx_rate() }})
            else fx_rates.rate_to_site
        end as fx_rate
    from items
    left join orders
        on items.order_id = orders.order_id
    left join fx_rates
        on orders.currency = fx_rates.currency
        and orders.order_day >= fx_rates.valid_from
        and (fx_rates.valid_to is null or orders.order_day <= fx_rates.valid_to)

),

priced as (

    select
        order_id,
        line_no,
        product_id,
        quantity,
        unit_price as source_unit_price,
        discount,
        source_currency,
        fx_rate,
        cast(cast(quantity as decimal(38, 0)) * unit_price as {{ type_money() }}) as source_gross_amount,
        {{ line_net_amount('quantity', 'unit_price', 'discount') }} as source_net_amount,
        updated_at
    from with_rate

),

converted as (

    select
        *,
        cast(round(source_unit_price * fx_rate, 2) as {{ type_money() }}) as unit_price,
        cast(round(source_gross_amount * fx_rate, 2) as {{ type_money() }}) as gross_amount,
        cast(round(source_net_amount * fx_rate, 2) as {{ type_money() }}) as net_amount
    from priced

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
    source_currency,
    fx_rate,
    source_unit_price,
    source_net_amount,
    updated_at
from converted
