{#- type_money(): the money type, DECIMAL(18,2) end to end (contract.MONEY). -#}
{% macro type_money() -%}
    {{ return(adapter.dispatch('type_money', 'crm_warehouse')()) }}
{%- endmacro %}

{% macro default__type_money() -%}
    decimal(18,2)
{%- endmacro %}

{#- line_net_amount(quantity, unit_price, discount): round(quantity * unit_price * (1 - discount), 2)
    as type_money(). Computed in DECIMAL(38,x) so the product cannot overflow before rounding
    (DuckDB keeps DECIMAL(18,x) for the product otherwise); rounding is half away from zero. -#}
{% macro line_net_amount(quantity, unit_price, discount) -%}
    cast(
        round(cast({{ quantity }} as decimal(38, 0)) * {{ unit_price }} * (1 - {{ discount }}), 2)
        as {{ type_money() }}
    )
{%- endmacro %}

{#- type_fx_rate(): exchange rates, DECIMAL(18,8) (contract.FX_RATE). -#}
{% macro type_fx_rate() -%}
    {{ return(adapter.dispatch('type_fx_rate', 'crm_warehouse')()) }}
{%- endmacro %}

{% macro default__type_fx_rate() -%}
    decimal(18,8)
{%- endmacro %}
