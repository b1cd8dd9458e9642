{#-
    pii_redact(text_expr): free text with email addresses replaced by '[email]' and phone numbers by
    '[phone]'. Portable: a chain of regexp_replace_all (dispatched) with RE2/Java-compatible patterns, no
    backreferences. Null in, null out. Emails are replaced first (their digits must not become phones).

    Phone shapes recognised (ASCII or full-width digits, see pii_phone_patterns()):
      * international: '+' then 7-15 digits, single separators (space - . ( )) allowed between digits;
      * Chinese mobile: 1[3-9] + 9 digits, single separators allowed ('138-0013-8000', '138 0013 8000');
      * landline with area code: optional '(', 0 + 2-3 digits, optional ')' and separator, 3-4 + 4 digits
        ('(010) 6552-1234', '010-65521234', '0755 1234 5678');
      * any run of 9 or more digits.
    Dates ('2025-06-24'), times and 8-digit ids ('C00000042') are left alone.
-#}

{% macro pii_email_pattern() -%}
    {{- return("[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+([.][A-Za-z0-9-]+)*[.][A-Za-z]{2,}") -}}
{%- endmacro %}

{% macro pii_phone_patterns() -%}
    {%- set d = "[0-9０-９]" -%}
    {%- set sep = "[ ().－-]?" -%}
    {{- return([
        "[+＋]" ~ d ~ "(" ~ sep ~ d ~ "){6,14}",
        "[1１][3-9３-９](" ~ sep ~ d ~ "){9}",
        "[(（]?[0０]" ~ d ~ "{2,3}[)）]?" ~ sep ~ d ~ "{3,4}" ~ sep ~ d ~ "{4}",
        d ~ "{9,}",
    ]) -}}
{%- endmacro %}

{% macro pii_redact(text_expr) -%}
    {%- set ns = namespace(expr=regexp_replace_all(text_expr, pii_email_pattern(), '[email]')) -%}
    {%- for pattern in pii_phone_patterns() -%}
        {%- set ns.expr = regexp_replace_all(ns.expr, pattern, '[phone]') -%}
    {%- endfor -%}
    {{ ns.expr }}
{%- endmacro %}
