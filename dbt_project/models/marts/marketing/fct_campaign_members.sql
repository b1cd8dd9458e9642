-- Campaign membership with the contact funnel, the window outcome and the attributed (credited) orders.
-- Window outcome (the same rule for treatment and control, so the groups are comparable; control members
-- are never sent anything): the member converted when the SAME source customer has at least one completed
-- order with assigned_at <= order_date < assigned_at + attribution_days days (window end excluded);
-- revenue is the net amount of those orders. It is the outcome the causal effects compare; an order inside
-- the windows of two campaigns counts in both, so it is NOT additive over campaigns.
-- Attribution (last touch, additive over campaigns): every completed order goes to at most ONE
-- membership, the most recent contact before it: among the TREATMENT memberships of the same source
-- customer whose window contains the order, the one with the latest assigned_at; equal assigned_at go to
-- the smallest campaign_id. attributed_orders / attributed_revenue count the orders credited to this row
-- (always 0 for control members, who are never contacted), so their sum over campaigns never exceeds the
-- revenue of the orders.
-- Orders are read from the current order tables at every build, so an order arriving in a later extract
-- updates the outcome of members assigned earlier.
-- The window is the macro campaign_window_end / in_campaign_window (macros/campaign_window.sql), shared
-- with the ML input ml_inputs.ml_campaign_units.
-- Grain: one row per campaign_id, customer_id (source customer id; current, non-deleted members).
with

members as (

    select
        campaign_id,
        customer_id,
        member_group,
        assigned_at,
        sent_at,
        opened_at,
        clicked_at,
        responded_at,
        updated_at
    from {{ ref('int_campaign_members_deduped') }}
    where not is_deleted

),

campaigns as (

    select
        campaign_id,
        attribution_days
    from {{ ref('stg_crm__campaigns') }}

),

completed_orders as (

    select
        order_id,
        customer_id,
        order_date,
        net_amount
    from {{ ref('int_orders_totaled') }}
    where status = 'completed'

),

windowed as (

    select
        members.campaign_id,
        members.customer_id,
        members.member_group,
        members.assigned_at,
        members.sent_at,
        members.opened_at,
        members.clicked_at,
        members.responded_at,
        members.updated_at,
        campaigns.attribution_days,
        {{ campaign_window_end('members.assigned_at', 'campaigns.attribution_days') }} as attribution_window_end
    from members
    left join campaigns
        on members.campaign_id = campaigns.campaign_id

),

window_outcome as (

    select
        windowed.campaign_id,
        windowed.customer_id,
        count(completed_orders.order_id) as converted_orders,
        sum(completed_orders.net_amount) as revenue
    from windowed
    inner join completed_orders
        on windowed.customer_id = completed_orders.customer_id
        and {{ in_campaign_window('completed_orders.order_date', 'windowed.assigned_at', 'windowed.attribution_window_end') }}
    group by windowed.campaign_id, windowed.customer_id

),

touches as (

    -- a contact: a treatment-group membership; its attribution window is where it can earn credit
    select campaign_id, customer_id, assigned_at, attribution_window_end
    from windowed
    where member_group = 'treatment'

),

order_touches as (

    select
        completed_orders.order_id,
        completed_orders.net_amount,
        touches.campaign_id,
        touches.customer_id,
        row_number() over (
            partition by completed_orders.order_id
            order by touches.assigned_at desc, touches.campaign_id asc
        ) as touch_rank
    from completed_orders
    inner join touches
        on completed_orders.customer_id = touches.customer_id
        and {{ in_campaign_window('completed_orders.order_date', 'touches.assigned_at', 'touches.attribution_window_end') }}

),

credited as (

    -- last touch: each order goes to its most recent contact only
    select
        campaign_id,
        customer_id,
        count(order_id) as attributed_orders,
        sum(net_amount) as attributed_revenue
    from order_touches
    where touch_rank = 1
    group by campaign_id, customer_id

),

id_map as (

    select
        customer_id,
        master_customer_id
    from {{ ref('int_customer_id_map') }}

)

select
    cast(windowed.campaign_id as {{ dbt.type_string() }}) as campaign_id,
    cast(windowed.customer_id as {{ dbt.type_string() }}) as customer_id,
    cast(coalesce(id_map.master_customer_id, windowed.customer_id) as {{ dbt.type_string() }}) as master_customer_id,
    cast(windowed.member_group as {{ dbt.type_string() }}) as member_group,
    cast(windowed.assigned_at as {{ dbt.type_timestamp() }}) as assigned_at,
    cast(windowed.sent_at as {{ dbt.type_timestamp() }}) as sent_at,
    cast(windowed.opened_at as {{ dbt.type_timestamp() }}) as opened_at,
    cast(windowed.clicked_at as {{ dbt.type_timestamp() }}) as clicked_at,
    cast(windowed.responded_at as {{ dbt.type_timestamp() }}) as responded_at,
    cast(windowed.sent_at is not null as boolean) as is_sent,
    cast(windowed.opened_at is not null as boolean) as is_opened,
    cast(windowed.clicked_at is not null as boolean) as is_clicked,
    cast(windowed.responded_at is not null as boolean) as is_responded,
    cast(windowed.attribution_days as integer) as attribution_days,
    cast(windowed.attribution_window_end as {{ dbt.type_timestamp() }}) as attribution_window_end,
    cast(case when coalesce(window_outcome.converted_orders, 0) > 0 then 1 else 0 end as integer) as converted,
    cast(coalesce(window_outcome.converted_orders, 0) as integer) as converted_orders,
    cast(coalesce(window_outcome.revenue, 0) as {{ type_money() }}) as revenue,
    cast(coalesce(credited.attributed_orders, 0) as integer) as attributed_orders,
    cast(coalesce(credited.attributed_revenue, 0) as {{ type_money() }}) as attributed_revenue,
    cast(windowed.updated_at as {{ dbt.type_timestamp() }}) as updated_at
from windowed
left join window_outcome
    on windowed.campaign_id = window_outcome.campaign_id
    and windowed.customer_id = window_outcome.customer_id
left join credited
    on windowed.campaign_id = credited.campaign_id
    and windowed.customer_id = credited.customer_id
left join id_map
    on windowed.customer_id = id_map.customer_id
