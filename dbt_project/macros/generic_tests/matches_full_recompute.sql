{#-
    matches_full_recompute(model, full_recompute, columns, current_rows='not is_deleted'): the current rows
    of an incremental model (`current_rows` filters out its delete tombstones) equal, column by column,
    the rows of `full_recompute`, a relation recomputed from the whole raw zone at every build (the
    staging view of the same entity). EXCEPT both ways over `columns` (a list of column names); every
    listed row is a difference, labelled with the side it is only on. Rows here mean an incremental run
    drifted from a full rebuild.
    Usage (model level):
        data_tests:
          - matches_full_recompute:
              name: sales_orders_incremental_matches_staging
              arguments:
                full_recompute: ref('stg_crm__orders')
                columns: [order_id, customer_id, ...]
-#}
{% test matches_full_recompute(model, full_recompute, columns, current_rows='not is_deleted') %}

with

incremental_current as (

    select {{ columns | join(', ') }}
    from {{ model }}
    where {{ current_rows }}

),

full_recompute as (

    select {{ columns | join(', ') }}
    from {{ full_recompute }}

),

only_incremental as (

    select * from incremental_current
    {{ dbt.except() }}
    select * from full_recompute

),

only_full as (

    select * from full_recompute
    {{ dbt.except() }}
    select * from incremental_current

)

select 'only in the incremental model' as difference, only_incremental.* from only_incremental
union all
select 'only in the full recompute' as difference, only_full.* from only_full

{% endtest %}
