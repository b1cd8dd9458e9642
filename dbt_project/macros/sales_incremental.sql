{#-
    Incremental "latest version per key" over a delta entity of the raw zone, shared by the commerce
    intermediate models int_orders_deduped, int_order_items_deduped, int_campaign_members_deduped and
    int_tickets_deduped (the name carries the owner's prefix; nothing in it is sales-specific).

    Strategy (exactly equal to a full rebuild after any sequence of batches):
      1. sales_new_batches_only(): on an incremental run read only raw rows of load batches newer than
         the newest _batch already stored (`_batch > max(_batch) of {{ this }}`; late-arriving rows are
         released into a later batch, so they are picked up too).
      2. sales_latest_versions(): union those rows with the rows already stored for the SAME keys and
         re-pick the latest version per key with latest_version() (updated_at, _extract_date, _source_line,
         _batch, _loaded_at, all descending). "Latest" is an associative max, so latest(stored latest,
         new rows) = latest(all rows): an older version arriving late never overwrites a newer one.
      3. The model is materialized incremental with incremental_strategy='delete+insert' on the key, so
         the re-picked row replaces the stored one.
      Deletions are kept as tombstones (is_deleted = true on the stored latest version): a delete must
      keep winning over older versions that arrive later. Models downstream filter `not is_deleted`.
      Re-reading a batch (e.g. when a batch only held losing versions, so max(_batch) stays lower) is
      harmless: picking the latest is idempotent.
      A `crm-warehouse reload` of an already processed day rewrites an OLD batch, which step 1 cannot see:
      reloads need a --full-refresh of these models.
-#}

{#- sales_new_batches_only(): a WHERE clause for the raw rows CTE; empty unless is_incremental(). -#}
{% macro sales_new_batches_only() -%}
    {%- if is_incremental() %}
    where cast(_batch as date) > (
        select coalesce(max(_batch), cast('0001-01-01' as date)) from {{ this }}
    )
    {%- endif %}
{%- endmacro %}

{#- sales_latest_versions(cleaned, key_columns, columns): two CTEs, `candidates` and `latest`.
    `cleaned` is a CTE with the cleaned raw rows (every name in `columns`, including the key, is_deleted
    and the lineage columns); `latest` holds one row per key: its latest version. -#}
{% macro sales_latest_versions(cleaned, key_columns, columns) -%}
candidates as (

    select {{ columns | join(', ') }}
    from {{ cleaned }}
    {%- if is_incremental() %}

    union all

    select
        {%- for column in columns %}
        stored.{{ column }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from {{ this }} as stored
    where exists (
        select 1
        from {{ cleaned }} as arriving
        where
            {%- for key in key_columns %}
            arriving.{{ key }} = stored.{{ key }}{% if not loop.last %} and{% endif %}
            {%- endfor %}
    )
    {%- endif %}

),

latest as (

    {{ latest_version('candidates', key_columns) }}

)
{%- endmacro %}
