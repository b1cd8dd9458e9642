{#-
    Parameters of the ML input models (models/ml_inputs/), from the site's crm.yml `ml:` section.

    ml_rfm_window_days(): the RFM look-back of the segmentation features in days, as an SQL integer
    literal, or null for the full history. Dagster exports crm.yml `ml.rfm_window_days` as the
    CRM_ML_RFM_WINDOW_DAYS environment variable for every dbt step (orchestration/assets/dbt.py dbt_as_of);
    empty or unset = null. Checked to be a positive integer, so no arbitrary text reaches the SQL.

    ml_event_outcome_column(event_type): the count column of a behaviour event type in
    ml_campaign_units (visit -> visits, search -> searches); the same rule as
    orchestration/ml_assets/settings.py EVENT_OUTCOME_COLUMNS, which reads the columns by these names.
-#}
{% macro ml_rfm_window_days() -%}
    {%- set days = env_var('CRM_ML_RFM_WINDOW_DAYS', '') | string | trim -%}
    {%- if days == '' -%}
        {{ return('null') }}
    {%- endif -%}
    {%- if not modules.re.match('^[1-9][0-9]*$', days) -%}
        {{ exceptions.raise_compiler_error("CRM_ML_RFM_WINDOW_DAYS must be a positive number of days or empty (full history), got '" ~ days ~ "'") }}
    {%- endif -%}
    {{ return(days) }}
{%- endmacro %}

{% macro ml_event_outcome_column(event_type) -%}
    {%- if event_type.endswith(('s', 'sh', 'ch', 'x')) -%}
        {{ return(event_type ~ 'es') }}
    {%- endif -%}
    {{ return(event_type ~ 's') }}
{%- endmacro %}
