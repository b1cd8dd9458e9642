-- The incremental int_customer_communications equals a full recomputation from every raw version (see
-- macros/customer_incremental.sql, customer_incremental_drift). Rows: keys that drifted; after a
-- `crm-warehouse reload` of a day, rebuild with --full-refresh.
{{ customer_incremental_drift(ref('int_customer_communications'), source('crm', 'communications'), 'communication_id') }}
