{#-
    Service-domain helpers: the run's logical date and portable percentiles.
-#}

{#- service_as_of(): the run's logical date as a scalar SQL DATE expression, read from the project's
    one as_of model, int_customer_as_of (var('as_of') when the run passes it, else the newest extract date
    of the raw zone), so a build never depends on the wall clock. Unit tests give it as an input. -#}
{% macro service_as_of() -%}
    (select as_of_date from {{ ref('int_customer_as_of') }})
{%- endmacro %}

{#- service_percentile(expr, fraction): continuous (interpolated) percentile of `expr` in an aggregate
    query; nulls are ignored. fraction is a number literal in [0, 1] (0.5 = median). -#}
{% macro service_percentile(expr, fraction) -%}
    {{ return(adapter.dispatch('service_percentile', 'crm_warehouse')(expr, fraction)) }}
{%- endmacro %}

{#- ANSI ordered-set aggregate (Postgres, Snowflake, Redshift, Databricks SQL, Trino). -#}
{% macro default__service_percentile(expr, fraction) -%}
    percentile_cont({{ fraction }}) within group (order by {{ expr }})
{%- endmacro %}

{% macro duckdb__service_percentile(expr, fraction) -%}
    quantile_cont({{ expr }}, {{ fraction }})
{%- endmacro %}

{% macro spark__service_percentile(expr, fraction) -%}
    percentile({{ expr }}, {{ fraction }})
{%- endmacro %}
