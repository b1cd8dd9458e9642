{#-
    unique_combination(model, combination): no two rows share the same values of the columns in
    `combination` (a list of column names; a composite key). Rows with a null in any of them are
    ignored, as dbt's `unique` ignores nulls - pair it with not_null tests on each column.
    Usage (model level):
        data_tests:
          - unique_combination:
              arguments:
                combination: [order_id, line_no]
-#}
{% test unique_combination(model, combination) %}

select
    {{ combination | join(', ') }},
    count(*) as n_records
from {{ model }}
where
    {% for column in combination -%}
    {{ column }} is not null{% if not loop.last %} and {% endif %}
    {%- endfor %}
group by {{ combination | join(', ') }}
having count(*) > 1

{% endtest %}
