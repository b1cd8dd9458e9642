{#-
    fold_fullwidth(expr): full-width forms folded to ASCII, character by character.

    U+FF01..U+FF5E (full-width ! .. ~, i.e. digits, Latin letters and punctuation) -> U+0021..U+007E,
    U+3000 (ideographic space) -> U+0020. Everything else (CJK ideographs, accents, ...) is unchanged.
    Null in, null out. Neither trims nor collapses whitespace (see normalize_name).
    The two maps below have the same length and are aligned position by position; they are quoted per
    adapter by sql_string_literal() (the ASCII side holds a quote and a backslash).
-#}
{% macro fullwidth_chars() -%}
    {{- return("！＂＃＄％＆＇（）＊＋，－．／０１２３４５６７８９：；＜＝＞？＠ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ［＼］＾＿｀ａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ｛｜｝～　") -}}
{%- endmacro %}

{% macro fullwidth_ascii_chars() -%}
    {{- return("!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~ ") -}}
{%- endmacro %}

{% macro fold_fullwidth(expr) -%}
    {{ return(adapter.dispatch('fold_fullwidth', 'crm_warehouse')(expr)) }}
{%- endmacro %}

{#- translate() exists in DuckDB, Spark, Postgres, Snowflake and BigQuery with these semantics. -#}
{% macro default__fold_fullwidth(expr) -%}
    translate({{ expr }}, {{ sql_string_literal(fullwidth_chars()) }}, {{ sql_string_literal(fullwidth_ascii_chars()) }})
{%- endmacro %}
