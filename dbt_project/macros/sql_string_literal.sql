{#-
    sql_string_literal(value) -> a SQL string literal holding the Jinja string `value` exactly.

    Used by the text macros so that regex patterns and translate() maps are written once, as plain
    strings, and quoted per adapter: standard SQL only doubles single quotes, Spark/Databricks
    literals also treat backslash as an escape character.
-#}
{% macro sql_string_literal(value) -%}
    {{ return(adapter.dispatch('sql_string_literal', 'crm_warehouse')(value)) }}
{%- endmacro %}

{% macro default__sql_string_literal(value) -%}
    '{{ value | replace("'", "''") }}'
{%- endmacro %}

{% macro spark__sql_string_literal(value) -%}
    '{{ value | replace("\\", "\\\\") | replace("'", "\\'") }}'
{%- endmacro %}
