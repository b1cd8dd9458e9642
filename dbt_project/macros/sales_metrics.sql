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

{#- sales_became_true(versions, key, flag): from a relation of delivered versions (columns `key`, `flag`
    boolean, updated_at; delete tombstones already left out), one row per key with
      first_seen_at  the updated_at of the first delivered version,
      last_false_at  the updated_at of the newest version where flag is false (null when never false),
      became_at      the updated_at of the first version where flag is true after last_false_at (null when
                     the newest versions are not flagged),
      was_seen_false true when a version without the flag was delivered (the change itself was observed).
    Versions are ordered by updated_at, the source system's change time. -#}
{% macro sales_became_true(versions, key, flag) -%}
    with

    per_key as (

        select
            {{ key }} as {{ key }},
            min(updated_at) as first_seen_at,
            max(case when not {{ flag }} then updated_at end) as last_false_at
        from {{ versions }}
        group by {{ key }}

    ),

    became as (

        select
            versions.{{ key }},
            min(versions.updated_at) as became_at
        from {{ versions }} as versions
        inner join per_key
            on versions.{{ key }} = per_key.{{ key }}
        where versions.{{ flag }}
            and (per_key.last_false_at is null or versions.updated_at > per_key.last_false_at)
        group by versions.{{ key }}

    )

    select
        per_key.{{ key }},
        per_key.first_seen_at,
        per_key.last_false_at,
        became.became_at,
        per_key.last_false_at is not null as was_seen_false
    from per_key
    left join became
        on per_key.{{ key }} = became.{{ key }}
{%- endmacro %}
