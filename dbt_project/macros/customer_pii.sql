{#-
    Masked postal address for the published customer tables (the full address stays in the work file and
    in the restricted schema). Like the other masked display values (int_customer_pii_tokens: name = first
    character + '*', email = first character + '***@' + domain, phone = '****' + last 4 digits), it keeps
    what is needed to read it and no more: the administrative names the address starts with, in clear, then
    the first character of the street part and '****'; the street itself never.

      '成都市长沙路l座'             -> '成都市长****'
      '上海市浦东新区世纪大道100号' -> '上海市浦东新区世****'
      '9118 Brown Forge Apt. 884'  -> '9****'   (no administrative prefix: the city is its own column)
      a multi-line address         -> masked from its first line on; the rest is hidden with the street

    Administrative prefix (customer_address_area_pattern()): an optional province (省, 自治区, 特别行政区),
    then an optional city (市, 自治州), then an optional district (区, 县), each a short run (at most 8, 8
    and 6 characters) without digits, spaces, commas, line breaks or street words (路 街 道 巷 号 弄), so a
    street name is never read as a district. Portable: regexp_extract (DuckDB and Spark, same arguments),
    substring, trim and ||; the pattern has no backslash.
-#}

{% macro customer_address_area_pattern() -%}
    {%- set part = "[^0-9 ,，路街道巷号弄\n]" -%}
    {{- return("^((" ~ part ~ "{1,8}?(省|自治区|特别行政区))?(" ~ part ~ "{1,8}?(市|自治州))?(" ~ part ~ "{1,6}?(区|县))?)") -}}
{%- endmacro %}

{#- customer_mask_address(address_expr): the masked address; null for a null address. address_expr must be
    trimmed and empty-as-null already (staging's clean_text). -#}
{% macro customer_mask_address(address_expr) -%}
    case
        when {{ address_expr }} is null then null
        else
            regexp_extract({{ address_expr }}, {{ sql_string_literal(customer_address_area_pattern()) }}, 1)
            || substring(
                trim(substring(
                    {{ address_expr }},
                    length(regexp_extract({{ address_expr }}, {{ sql_string_literal(customer_address_area_pattern()) }}, 1)) + 1
                )),
                1, 1
            )
            || '****'
    end
{%- endmacro %}
