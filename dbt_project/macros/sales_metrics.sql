{#-
    Small portable helpers for the commerce marts and reports (sales, marketing, service).
-#}

{#- sales_ratio(numerator, denominator, scale=4): numerator / denominator rounded to `scale` decimals as
    DECIMAL(18, scale); null when the denominator is 0 or null. Computed from exact (integer / decimal)
    sums, so the result is deterministic. -#}
{% macro sales_ratio(numerator, denominator, scale=4) -%}
    case
        when {{ denominator }} is null or {{ denominator }} = 0 then null
        else cast(round(cast({{ numerator }} as decimal(38, 10)) / cast({{ denominator }} as decimal(38, 10)), {{ scale }}) as decimal(18, {{ scale }}))
    end
{%- endmacro %}

{#- sales_month_start(expr): first day of the month of a DATE or TIMESTAMP, as a DATE. -#}
{% macro sales_month_start(expr) -%}
    cast({{ dbt.date_trunc('month', expr) }} as date)
{%- endmacro %}

{#- sales_period_start(period): the DATE of the first day of a 'YYYY-MM' period string. -#}
{% macro sales_period_start(period) -%}
    cast({{ dbt.concat([period, "'-01'"]) }} as date)
{%- endmacro %}

{#- sales_period_label(date_expr): the 'YYYY-MM' label of a DATE (the inverse of sales_period_start). -#}
{% macro sales_period_label(date_expr) -%}
    {{ return(adapter.dispatch('sales_period_label', 'crm_warehouse')(date_expr)) }}
{%- endmacro %}

{% macro default__sales_period_label(date_expr) -%}
    substring(cast({{ date_expr }} as {{ dbt.type_string() }}), 1, 7)
{%- endmacro %}

{% macro duckdb__sales_period_label(date_expr) -%}
    strftime({{ date_expr }}, '%Y-%m')
{%- endmacro %}
