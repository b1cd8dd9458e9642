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

{#- service_sla_breached(stop_seconds, target_minutes, open_seconds): an SLA target's breach flag, one rule for
    every target. stop_seconds = seconds from opened_at to the event that stops the target's clock (null while
    it has not happened yet); open_seconds = seconds from opened_at to the end of the as_of day. Null without
    a target; breached when the clock stopped after the target, or has not stopped at the end of the as_of
    day although the target has passed; false while still within target. -#}
{% macro service_sla_breached(stop_seconds, target_minutes, open_seconds) -%}
    case
        when {{ target_minutes }} is null then null
        when {{ stop_seconds }} is not null then {{ stop_seconds }} > 60 * {{ target_minutes }}
        else {{ open_seconds }} > 60 * {{ target_minutes }}
    end
{%- endmacro %}

{#- service_first_reply_stop_seconds(first_response_seconds, solved_seconds): when the first-reply clock
    stops, as Zendesk does: at the first agent reply or when the ticket is solved without one, whichever came
    first (a ticket solved before its first-reply target without any reply has not breached it).
    solved_seconds is null for tickets not solved. -#}
{% macro service_first_reply_stop_seconds(first_response_seconds, solved_seconds) -%}
    case
        when {{ first_response_seconds }} is null then {{ solved_seconds }}
        when {{ solved_seconds }} is null then {{ first_response_seconds }}
        else least({{ first_response_seconds }}, {{ solved_seconds }})
    end
{%- endmacro %}

{#- CSAT: two measures, two names, one definition each (rpt_service, rpt_customer).
    service_csat_share_satisfied(satisfied, rated): share of rated tickets scoring 4 or 5 (0-1, 4 decimals).
    service_avg_satisfaction_score(score_sum, rated): mean 1-5 score of rated tickets (2 decimals); this is the
    measure on the scale of the SLA plans' csat_target. Both null without a rated ticket. -#}
{% macro service_csat_share_satisfied(satisfied, rated) -%}
    {{ sales_ratio(satisfied, rated, 4) }}
{%- endmacro %}

{% macro service_avg_satisfaction_score(score_sum, rated) -%}
    {{ sales_ratio(score_sum, rated, 2) }}
{%- endmacro %}
