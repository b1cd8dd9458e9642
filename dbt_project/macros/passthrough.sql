{#-
    Passthrough columns (orchestration/passthrough.py): extra columns of an extract file, kept by the loader in
    the raw map column extra_fields (name -> text), that the site promotes to typed mart columns in crm.yml.
    Dagster exports the checked list as the JSON environment variable CRM_SITE_PASSTHROUGH for every dbt step
    ({"customers": [{"name": ..., "type": ..., "alias": ...}], ...}); unset = none.

    passthrough_aliases(entity)            -> the mart column names, in crm.yml order
    passthrough_select(entity, map_expr)   -> "try_cast(<map_expr>[<name literal>] as <type>) as <alias>," per column
    The names reach the SQL only as string literals (sql_string_literal); types and aliases are checked
    against the same allow-list and pattern as in Python, so a hand-set variable cannot inject SQL.
-#}
{% macro passthrough_columns(entity) -%}
    {%- set config = fromjson(env_var('CRM_SITE_PASSTHROUGH', '{}')) -%}
    {%- set allowed_types = ['VARCHAR', 'BIGINT', 'INTEGER', 'DOUBLE', 'DECIMAL(18,2)', 'BOOLEAN', 'DATE', 'TIMESTAMP'] -%}
    {%- set columns = config.get(entity, []) -%}
    {%- for column in columns -%}
        {%- if column.type not in allowed_types or not modules.re.fullmatch('[a-z][a-z0-9_]{0,62}', column.alias) -%}
            {{ exceptions.raise_compiler_error("CRM_SITE_PASSTHROUGH: bad type or alias for " ~ entity ~ ": " ~ column) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(columns) }}
{%- endmacro %}

{% macro passthrough_aliases(entity) -%}
    {{ return(passthrough_columns(entity) | map(attribute='alias') | list) }}
{%- endmacro %}

{% macro passthrough_select(entity, map_expr) -%}
    {%- for column in passthrough_columns(entity) %}
        try_cast({{ map_expr }}[{{ sql_string_literal(column.name) }}] as {{ column.type }}) as {{ column.alias }},
    {%- endfor %}
{%- endmacro %}
