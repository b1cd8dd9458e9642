{#-
    Identity-resolution helpers for the customer domain (int_identity_match_keys, int_customer_id_map).
-#}

{#- customer_is_generic_email(email_expr): true when the local part (before the first '@') of an already
    normalised (lower/trim) email is in customer_generic_email_local_parts() (macros/generated/contract_rules.sql,
    generated from orchestration/contract.py GENERIC_EMAIL_LOCAL_PARTS); null for a null email. -#}
{% macro customer_is_generic_email(email_expr) -%}
    ({{ dbt.split_part(email_expr, "'@'", 1) }} in (
        {%- for part in customer_generic_email_local_parts() -%}
            {{ sql_string_literal(part) }}{% if not loop.last %}, {% endif %}
        {%- endfor -%}
    ))
{%- endmacro %}

{#- customer_identity_rounds(): number of min-label propagation rounds in int_customer_id_map. Each round
    moves the smallest id one match-group hop; the singular test customer_id_map_converged fails if a
    component needed more. -#}
{% macro customer_identity_rounds() -%}
    {{ return(6) }}
{%- endmacro %}
