{#-
    Regular expressions, written once as plain (RE2 / Java compatible) pattern strings.
    `pattern` and `replacement` are Jinja strings, not SQL literals: they are quoted per adapter by
    sql_string_literal(). Use only constructs both RE2 (DuckDB) and java.util.regex (Spark) know
    (character classes, \s, \d, anchors, quantifiers); no backreferences in replacements.
-#}

{#- regexp_replace_all(expr, pattern, replacement): every match of pattern in expr replaced. -#}
{% macro regexp_replace_all(expr, pattern, replacement) -%}
    {{ return(adapter.dispatch('regexp_replace_all', 'crm_warehouse')(expr, pattern, replacement)) }}
{%- endmacro %}

{#- Spark, Snowflake, BigQuery, Databricks: regexp_replace replaces every match. -#}
{% macro default__regexp_replace_all(expr, pattern, replacement) -%}
    regexp_replace({{ expr }}, {{ sql_string_literal(pattern) }}, {{ sql_string_literal(replacement) }})
{%- endmacro %}

{#- DuckDB and Postgres replace the first match only unless given the 'g' option. -#}
{% macro duckdb__regexp_replace_all(expr, pattern, replacement) -%}
    regexp_replace({{ expr }}, {{ sql_string_literal(pattern) }}, {{ sql_string_literal(replacement) }}, 'g')
{%- endmacro %}

{% macro postgres__regexp_replace_all(expr, pattern, replacement) -%}
    regexp_replace({{ expr }}, {{ sql_string_literal(pattern) }}, {{ sql_string_literal(replacement) }}, 'g')
{%- endmacro %}


{#- regexp_contains(expr, pattern): true when pattern matches anywhere in expr (anchor it with ^...$
    for a full match); null when expr is null. -#}
{% macro regexp_contains(expr, pattern) -%}
    {{ return(adapter.dispatch('regexp_contains', 'crm_warehouse')(expr, pattern)) }}
{%- endmacro %}

{% macro default__regexp_contains(expr, pattern) -%}
    regexp_like({{ expr }}, {{ sql_string_literal(pattern) }})
{%- endmacro %}

{% macro duckdb__regexp_contains(expr, pattern) -%}
    regexp_matches({{ expr }}, {{ sql_string_literal(pattern) }})
{%- endmacro %}

{% macro spark__regexp_contains(expr, pattern) -%}
    ({{ expr }} rlike {{ sql_string_literal(pattern) }})
{%- endmacro %}

{% macro postgres__regexp_contains(expr, pattern) -%}
    ({{ expr }} ~ {{ sql_string_literal(pattern) }})
{%- endmacro %}
