{#-
    site_currency_literal(): the site currency (ISO 4217, from crm.yml; Dagster exports it as the
    CRM_SITE_CURRENCY environment variable for every dbt step) as a SQL string literal. Every money column of
    the marts and reports is in this currency; a row in another currency is converted with fx_rates.
    Checked to be three capital letters, so no arbitrary text reaches the SQL.
-#}
{% macro site_currency_literal() -%}
    {%- set code = env_var('CRM_SITE_CURRENCY', 'CNY') | string | trim | upper -%}
    {%- if not modules.re.match('^[A-Z]{3}$', code) -%}
        {{ exceptions.raise_compiler_error("CRM_SITE_CURRENCY must be an ISO 4217 code such as CNY or USD, got '" ~ code ~ "'") }}
    {%- endif -%}
    {{ return(sql_string_literal(code)) }}
{%- endmacro %}
