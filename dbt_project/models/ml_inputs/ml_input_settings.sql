{{ config(schema='ml_inputs', materialized='table') }}
-- The parameters every ML input model of this folder was built with: the run's logical date (as_of, from
-- int_customer_as_of) and the segmentation's RFM window (crm.yml `ml.rfm_window_days`, macro
-- ml_rfm_window_days(); null = the full history). The ML assets compare them with their own run's values
-- before reading an input, so a family re-run alone never reads features of another day or window.
-- Grain: exactly one row.
select
    cast(as_of.as_of_date as date) as as_of_date,
    cast({{ ml_rfm_window_days() }} as integer) as rfm_window_days
from {{ ref('int_customer_as_of') }} as as_of
