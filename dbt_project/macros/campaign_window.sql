{#-
    The attribution window of a campaign membership, in one place (marts.fct_campaign_members and the ML
    input ml_inputs.ml_campaign_units use it): it opens at the member's assigned_at and closes
    attribution_days days later, the end excluded.

    campaign_window_end(assigned_at, attribution_days): the window end (a timestamp).
    in_campaign_window(ts, assigned_at, window_end): true when ts falls in [assigned_at, window_end).
-#}
{% macro campaign_window_end(assigned_at, attribution_days) -%}
    {{ dbt.dateadd('day', attribution_days, assigned_at) }}
{%- endmacro %}

{% macro in_campaign_window(ts, assigned_at, window_end) -%}
    ({{ ts }} >= {{ assigned_at }} and {{ ts }} < {{ window_end }})
{%- endmacro %}
