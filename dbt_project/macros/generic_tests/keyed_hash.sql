{#-
    keyed_hash(model, column_name): every non-NULL value is a keyed hash of personal data (64 lower-case
    hex digits, HMAC-SHA256), never a plaintext name, e-mail or phone that leaked into the column.
    The test returns a count only, so a leaked value never reaches dbt's logs or the run's error.
-#}
{% test keyed_hash(model, column_name) %}

select count(*) as values_not_hashed
from {{ model }}
where {{ column_name }} is not null
  and not {{ regexp_contains(column_name, '^[0-9a-f]{64}$') }}
having count(*) > 0

{% endtest %}
