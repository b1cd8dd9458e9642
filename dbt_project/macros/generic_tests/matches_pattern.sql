{#-
    matches_pattern(model, column_name, pattern, rule): every non-NULL value matches the regular
    expression `pattern` (e.g. a month as YYYY-MM). Returns the distinct values that do not match.
-#}
{% test matches_pattern(model, column_name, pattern, rule='') %}

select {{ column_name }} as value_not_matching, count(*) as n_rows
from {{ model }}
where {{ column_name }} is not null
  and not {{ regexp_contains(column_name, pattern) }}
group by 1

{% endtest %}
