-- Customer history, slowly changing dimension type 2. Grain: one row per source customer_id and
-- valid_from (a period during which the tracked attributes did not change).
--
-- Derived from EVERY raw version of the `crm.customers` source (intermediate.int_customer_versions, not
-- the latest-version staging view),
-- so a rebuild from the same raw zone reproduces it exactly, whatever the order and timing of the loads.
-- Versions are ordered as staging orders them (updated_at, null = oldest; then _extract_date,
-- _source_line, _batch, _loaded_at). Several versions with the same updated_at collapse to the one staging
-- would pick (the last); then consecutive versions with identical tracked attributes collapse into one
-- period. valid_from = updated_at of the first version of the period (created_at, then the extract date
-- when updated_at is missing); valid_to = valid_from of the next period (null for the current one). A
-- delete is a period too (is_deleted = true), so a deleted customer's current row says so.
-- Tracked attributes are non-personal only (no name, email, phone, address, birth date).
{%- set tracked = ['status', 'customer_type', 'source', 'gender', 'occupation', 'city', 'region', 'country', 'is_deleted'] %}
with

raw_versions as (

    select
        customer_id,
        gender,
        occupation,
        city,
        region,
        country,
        customer_type,
        source,
        status,
        is_deleted,
        coalesce(updated_at, created_at, cast(_extract_date as timestamp)) as effective_at,
        _extract_date,
        _source_line,
        _batch,
        _loaded_at
    from {{ ref('int_customer_versions') }}

),

-- versions sharing an effective time: keep the one the staging order ranks last (it superseded the others
-- at once)
one_per_instant as (

    select *
    from (
        select
            raw_versions.*,
            row_number() over (
                partition by customer_id, effective_at
                order by _extract_date desc, _source_line desc, _batch desc, _loaded_at desc
            ) as instant_rank
        from raw_versions
    ) as ranked
    where instant_rank = 1

),

ordered as (

    select
        one_per_instant.*,
        {% for column in tracked -%}
        lag({{ column }}) over (partition by customer_id order by effective_at) as previous_{{ column }},
        {% endfor -%}
        row_number() over (partition by customer_id order by effective_at) as version_number
    from one_per_instant

),

changes as (

    select
        ordered.*,
        case
            when version_number = 1 then 1
            when {% for column in tracked -%}
                {{ customer_null_safe_equal(column, 'previous_' ~ column) }}{% if not loop.last %}
                and {% endif %}
                {%- endfor %} then 0
            else 1
        end as is_change
    from ordered

),

periods as (

    select
        changes.*,
        sum(is_change) over (
            partition by customer_id order by effective_at rows between unbounded preceding and current row
        ) as period_number
    from changes

),

collapsed as (

    select
        customer_id,
        period_number,
        min(effective_at) as valid_from,
        count(*) as versions_in_period,
        {% for column in tracked -%}
        max(case when is_change = 1 then {{ column }} end) as {{ column }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from periods
    group by customer_id, period_number

),

final as (

    select
        collapsed.*,
        lead(valid_from) over (partition by customer_id order by valid_from) as valid_to
    from collapsed

)

select
    final.customer_id,
    id_map.master_customer_id,
    final.valid_from,
    final.valid_to,
    final.valid_to is null as is_current,
    cast(final.period_number as integer) as period_number,
    cast(final.versions_in_period as integer) as versions_in_period,
    final.status,
    final.customer_type,
    final.source,
    final.gender,
    final.occupation,
    final.city,
    final.region,
    final.country,
    final.is_deleted
from final
left join {{ ref('int_customer_id_map') }} as id_map
    on final.customer_id = id_map.customer_id
