{#-
    Dates for the customer domain. Every relative rule (churn, 30/90/365-day windows, age bands) uses one
    logical date per run, `as_of`, never the wall clock.
-#}

{#- customer_as_of_literal(): the run's logical date as a SQL date literal, or none when it is not given.
    It comes from the `as_of` var (`dbt build --vars '{"as_of": "YYYY-MM-DD"}'` by hand) or else the
    CRM_AS_OF environment variable (what Dagster sets: an env var lets dbt partial-parse, a changed var
    makes it re-parse the whole project). The value must be YYYY-MM-DD (checked here, so no arbitrary text
    reaches the SQL). -#}
{% macro customer_as_of_literal() -%}
    {%- set as_of = var('as_of', env_var('CRM_AS_OF', '')) -%}
    {%- if as_of is none or (as_of | string | trim) == '' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set as_of = as_of | string | trim -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', as_of) -%}
        {{ exceptions.raise_compiler_error("as_of (var or CRM_AS_OF) must be a date YYYY-MM-DD, got '" ~ as_of ~ "'") }}
    {%- endif -%}
    {{ return(dbt.cast(sql_string_literal(as_of), api.Column.translate_type('date'))) }}
{%- endmacro %}

{#- customer_to_date(expr): a timestamp (or date) expression as a DATE. -#}
{% macro customer_to_date(expr) -%}
    cast({{ expr }} as {{ api.Column.translate_type('date') }})
{%- endmacro %}

{#- customer_date_add_days(days, date_expr): date_expr + days (an integer expression), as a DATE. -#}
{% macro customer_date_add_days(days, date_expr) -%}
    {{ customer_to_date(dbt.dateadd('day', days, date_expr)) }}
{%- endmacro %}

{#- customer_in_last_days(ts_expr, days, as_of_expr): true when the timestamp falls on one of the `days`
    calendar days ending on as_of (as_of - days < date(ts) <= as_of). -#}
{% macro customer_in_last_days(ts_expr, days, as_of_expr) -%}
    ({{ customer_to_date(ts_expr) }} > {{ customer_date_add_days(-days, as_of_expr) }}
        and {{ customer_to_date(ts_expr) }} <= {{ as_of_expr }})
{%- endmacro %}

{#- customer_churn_days(): the churn rule's window (the rule itself: intermediate.int_customer_churn_by_month). -#}
{% macro customer_churn_days() -%}
    {{ return(180) }}
{%- endmacro %}

{#- customer_null_safe_equal(a, b): true when both are equal or both null (never null itself). -#}
{% macro customer_null_safe_equal(a, b) -%}
    (coalesce({{ a }} = {{ b }}, false) or ({{ a }} is null and {{ b }} is null))
{%- endmacro %}

{#- customer_greatest_date(a, b): the later of two dates, ignoring a null one (null when both null);
    written with CASE because greatest() treats nulls differently across warehouses. -#}
{% macro customer_greatest_date(a, b) -%}
    case
        when {{ a }} is null then {{ b }}
        when {{ b }} is null then {{ a }}
        when {{ a }} >= {{ b }} then {{ a }}
        else {{ b }}
    end
{%- endmacro %}

{#- customer_least_date(a, b): the earlier of two dates, ignoring a null one (null when both null). -#}
{% macro customer_least_date(a, b) -%}
    case
        when {{ a }} is null then {{ b }}
        when {{ b }} is null then {{ a }}
        when {{ a }} <= {{ b }} then {{ a }}
        else {{ b }}
    end
{%- endmacro %}

{#- customer_age_years(birth_date, as_of): completed years of age on as_of (birthday counted on the day). -#}
{% macro customer_age_years(birth_date, as_of) -%}
    (extract(year from {{ as_of }}) - extract(year from {{ birth_date }})
        - case
            when extract(month from {{ as_of }}) * 100 + extract(day from {{ as_of }})
                < extract(month from {{ birth_date }}) * 100 + extract(day from {{ birth_date }})
                then 1
            else 0
        end)
{%- endmacro %}

{#- customer_age_band(birth_date, as_of): under_25, 25_34, 35_44, 45_54, 55_64, 65_plus; null when the
    birth date is unknown. The birth date itself (personal data) never reaches a mart. -#}
{% macro customer_age_band(birth_date, as_of) -%}
    case
        when {{ birth_date }} is null then null
        when {{ customer_age_years(birth_date, as_of) }} < 25 then 'under_25'
        when {{ customer_age_years(birth_date, as_of) }} < 35 then '25_34'
        when {{ customer_age_years(birth_date, as_of) }} < 45 then '35_44'
        when {{ customer_age_years(birth_date, as_of) }} < 55 then '45_54'
        when {{ customer_age_years(birth_date, as_of) }} < 65 then '55_64'
        else '65_plus'
    end
{%- endmacro %}
