-- fx_rates: snapshot extract (optional: only a site with rows in a foreign currency delivers it). The rows of
-- the newest extract; keys missing from it are deleted. rate_to_site = site-currency units per one unit of
-- `currency`; valid_to = the day before the next valid_from of the same currency (NULL: still valid).
-- Grain: one row per currency, valid_from.
with

raw_rows as (

    select * from {{ source('crm', 'fx_rates') }}

),

cleaned as (

    select
        upper({{ clean_text('currency') }}) as currency,
        valid_from,
        rate_to_site,
        extra_fields,
        _extract_date,
        _source_file,
        _source_line,
        _loaded_at,
        cast(_batch as date) as _batch
    from raw_rows

),

latest as (

    {{ latest_snapshot('cleaned', ['currency', 'valid_from']) }}

),

final as (

    select
        currency,
        valid_from,
        lead(valid_from) over (partition by currency order by valid_from) - 1 as valid_to,
        rate_to_site,
        extra_fields,
        _extract_date,
        _source_file,
        _source_line,
        _loaded_at,
        _batch
    from latest

)

select * from final
