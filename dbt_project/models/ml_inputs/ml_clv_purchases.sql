{{ config(schema='ml_inputs', materialized='table') }}
-- Purchase history of the lifetime-value models (BG/NBD + Gamma-Gamma, orchestration/ml_assets/clv.py).
-- Grain: one row per master customer (marts.dim_customers) x purchase day: the completed orders of that
-- day (order_date on or before the run's as_of) and their net revenue (site currency). Several orders on
-- one day are one purchase, as in the models' day-level data.
select
    orders.master_customer_id as customer_id,
    {{ customer_to_date('orders.order_date') }} as purchase_date,
    count(*) as orders,
    sum(orders.net_revenue) as net_revenue
from {{ ref('fct_orders') }} as orders
cross join {{ ref('ml_input_settings') }} as settings
where orders.is_completed
    and {{ customer_to_date('orders.order_date') }} <= settings.as_of_date
group by orders.master_customer_id, {{ customer_to_date('orders.order_date') }}
