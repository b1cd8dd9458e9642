{{ config(schema='ml_inputs', materialized='view') }}
-- The population a campaign's cost paid for: one row per campaign of the current plan snapshot with its
-- current treatment-group members (randomised: the treatment group; targeted: every targeted member),
-- analysed by the effect estimate or not (window still open at as_of, or a targeted member without any
-- order or behaviour event before the send, whom ml_campaign_units leaves out). Control (hold-out)
-- members are never contacted, so the cost does not pay for them. The incremental revenue of
-- ml.campaign_effects is the per-member revenue effect times this count, so reports.rpt_campaign's
-- incremental ROI sets it against the cost of the same members.
-- Grain: one row per campaign_id.
select
    campaign_id,
    cast(treatment_members as bigint) as treatment_members
from {{ ref('dim_campaigns') }}
