{{ config(materialized='table') }}
-- The run's logical date for the customer domain, in one place.
-- Grain: exactly one row.
-- as_of = var('as_of') or else env var CRM_AS_OF when given (Dagster sets CRM_AS_OF to the run's logical
-- date), else the newest _extract_date present in the raw zone (any entity). Never the wall clock, so a rebuild
-- of the same raw zone gives the same marts.
{%- set entities = [
    'customers', 'products', 'sales_reps', 'service_plans', 'campaigns', 'sales_targets',
    'customer_relationships', 'communications', 'behavior_events', 'orders', 'order_items',
    'opportunities', 'campaign_spend', 'campaign_members', 'service_tickets'
] %}
{%- set as_of_literal = customer_as_of_literal() %}
with

{% if as_of_literal is none -%}
extract_dates as (

    {% for entity in entities -%}
    select max(_extract_date) as max_extract_date from {{ source('crm', entity) }}
    {% if not loop.last %}union all
    {% endif %}
    {%- endfor %}

),

{% endif -%}
resolved as (

    select
        {% if as_of_literal is none -%}
        (select max(max_extract_date) from extract_dates)
        {%- else -%}
        {{ as_of_literal }}
        {%- endif %} as as_of_date

)

select {{ customer_to_date('as_of_date') }} as as_of_date
from resolved
