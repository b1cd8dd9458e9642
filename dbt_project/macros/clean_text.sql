{#-
    Column cleaners used by the staging models. Each takes a SQL expression (usually a column name)
    and returns a SQL expression; null in, null out; an empty or blank result becomes null.
    Portable: built only from trim/lower/nullif and the dispatched fold_fullwidth / regexp macros.
-#}

{#- clean_text(expr): surrounding whitespace trimmed; '' -> null. For ids, free text, labels. -#}
{% macro clean_text(expr) -%}
    nullif(trim({{ expr }}), '')
{%- endmacro %}

{#- clean_code(expr): a code-set value, trimmed and lower-cased; '' -> null. -#}
{% macro clean_code(expr) -%}
    lower({{ clean_text(expr) }})
{%- endmacro %}

{#- clean_email(expr): lower(trim(expr)); '' -> null. Validity was checked by the raw loader. -#}
{% macro clean_email(expr) -%}
    lower({{ clean_text(expr) }})
{%- endmacro %}

{#- normalize_name(expr): full-width folded to ASCII (incl. U+3000), runs of whitespace collapsed to
    one space, trimmed; '' -> null. Case is kept: this is the display form. -#}
{% macro normalize_name(expr) -%}
    nullif(trim({{ regexp_replace_all(fold_fullwidth(expr), '\\s+', ' ') }}), '')
{%- endmacro %}

{#- name_key(expr): identity-matching form of a name: full-width folded, all whitespace removed,
    lower-cased; '' -> null. '  Ｌｉ　Ｌｅｉ ' and 'li lei' give the same key 'lilei'. -#}
{% macro name_key(expr) -%}
    nullif(lower({{ regexp_replace_all(fold_fullwidth(expr), '\\s+', '') }}), '')
{%- endmacro %}

{#- normalize_phone(expr): full-width folded, then whitespace, '-', '.', '(' and ')' removed, so a
    valid phone becomes digits with an optional leading '+' (the raw loader already nulled phones
    that do not then match ^\+?[0-9]{7,15}$); '' -> null. The country code is kept. -#}
{% macro normalize_phone(expr) -%}
    nullif({{ regexp_replace_all(fold_fullwidth(expr), '[\\s().-]', '') }}, '')
{%- endmacro %}

{#- phone_national(expr): for an already normalised phone (see normalize_phone), drops a leading
    '+86' / '86' country code when what remains is 11 digits (a 13-digit number with the code), so
    '+86 138-0013-8000', '8613800138000' and '13800138000' all give '13800138000'. Other numbers are
    returned unchanged. Intended for matching customers by phone. -#}
{% macro phone_national(expr) -%}
    case
        when {{ regexp_contains(expr, '^[+]?86[0-9]{11}$') }} then {{ dbt.right(expr, 11) }}
        else {{ expr }}
    end
{%- endmacro %}
