{#-
    value_ranges(model, ranges): every listed column holds values within its bounds (inclusive; NULL
    passes; use not_null for that). One query per model for all its bounded columns, so a mart's value
    rules cost one test, not one per column.
    `ranges` maps a column to {min: x, max: y, rule: "why"} (either bound may be left out). A failing
    test returns one row per column out of range: column, rule, rows out of range, observed min and max.
    Usage (model level):
        data_tests:
          - value_ranges:
              name: fct_orders_value_ranges
              arguments:
                ranges:
                  net_amount: {min: 0, rule: money is not negative}
-#}
{% test value_ranges(model, ranges) %}

{%- for column, bounds in ranges.items() %}
{%- set quoted = adapter.quote(column) %}
{% if not loop.first %}union all{% endif %}
select
    {{ sql_string_literal(column) }} as column_name,
    {{ sql_string_literal(bounds.get('rule', '')) }} as rule,
    count(*) as rows_out_of_range,
    cast(min({{ quoted }}) as {{ dbt.type_string() }}) as observed_min,
    cast(max({{ quoted }}) as {{ dbt.type_string() }}) as observed_max
from {{ model }}
where
    {%- if 'min' in bounds %} {{ quoted }} < {{ bounds['min'] }}{% endif %}
    {%- if 'min' in bounds and 'max' in bounds %} or{% endif %}
    {%- if 'max' in bounds %} {{ quoted }} > {{ bounds['max'] }}{% endif %}
having count(*) > 0
{%- endfor %}

{% endtest %}
