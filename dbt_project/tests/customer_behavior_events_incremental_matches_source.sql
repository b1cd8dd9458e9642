-- The incremental int_customer_behavior_events equals a full recomputation from every raw version (see
-- macros/customer_incremental.sql, customer_incremental_drift). Rows: keys that drifted; after a
-- `crm-warehouse reload` of a day, rebuild with --full-refresh.
{{ customer_incremental_drift(ref('int_customer_behavior_events'), source('crm', 'behavior_events'), 'event_id') }}
