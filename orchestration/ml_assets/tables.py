"""The ML stage's tables: names, grains and descriptions (a fixed allow-list, also used as SQL identifiers),
the output family each belongs to (one Dagster asset per family, orchestration/ml_assets/assets.py), and the
column types of ml.campaign_effects. Plain constants, so the Dagster definitions and the publish can describe
the ML assets without importing scikit-learn (the modules that compute them are imported only when an ML
asset runs)."""

STORE_SCHEMA = "ml_store"  # private: not in PUBLISHED_SCHEMAS

# table -> (grain / sort columns, description); names are a fixed allow-list used as SQL identifiers
ML_TABLES: dict[str, tuple[tuple[str, ...], str]] = {
    "customer_segments": (
        ("customer_id",),
        "One row per master customer (marts.dim_customers): persistent k-means cluster_id and segment_name "
        "(named from the cluster profile: new, at risk, bargain hunters, champions, loyal, occasional), RFM "
        "segment and scores with the raw recency_days (days since the last completed order; NULL without one), "
        "frequency (completed orders) and monetary (their net revenue, site currency) over the RFM window "
        "(crm.yml ml.rfm_window_days; default the full history, never capped), and the model features it was "
        "scored on (tenure_days: days since sign-up), as of the run's as_of.",
    ),
    "segment_profiles": (
        ("cluster_id", "feature"),
        "One row per cluster and model feature: size, share, mean/median of the members' values and the "
        "centroid (original units and standardised log units).",
    ),
    "segment_rules": (
        ("cluster_id", "rule_id"),
        "One row per leaf of a depth-4 entropy tree fitted to the cluster labels: readable rule, support, "
        "purity; fidelity (held-out accuracy of the tree) is in ml.model_runs.",
    ),
    "model_runs": (
        ("as_of", "model", "run_id"),
        "One row per model run (history, all runs so far): run id, as_of, training data hash, parameters, "
        "metrics (silhouette, fidelity, sizes, retention; effect and uplift summaries) and library versions.",
    ),
    "campaign_effects": (
        ("campaign_id", "outcome", "method"),
        "One row per campaign, outcome (conversion, revenue per member, and the behaviour-event counts in the "
        "attribution window chosen by crm.yml ml.campaign_outcomes, e.g. visits) and method; is_primary marks the "
        "estimate to report (Lin/HC2 for randomised campaigns, AIPW ATT for targeted ones) with 95% CI, "
        "p-value and relative lift E. Revenue rows also carry the incremental revenue (DECIMAL, site "
        "currency): the per-member effect times the treatment-group members the campaign's cost paid for.",
    ),
    "customer_uplift": (
        ("campaign_id", "customer_id"),
        "One row per member of a randomised campaign: out-of-fold uplift score on conversion (predicted "
        "effect, probability points), decile (1 = highest) and fold. Targeted campaigns get no score.",
    ),
    "uplift_curves": (
        ("campaign_id", "outcome", "fraction_targeted"),
        "Qini / cumulative-gain curve points of the out-of-fold uplift scores per randomised campaign.",
    ),
    "customer_segments_history": (
        ("customer_id", "valid_from"),
        "One row per master customer and version of its segment (SCD type 2): the k-means cluster and segment "
        "name and the RFM segment it held from valid_from (the segmentation run where they first appeared) "
        "until valid_to (exclusive; NULL while current), with the version before, so a marketer sees who "
        "moved between segments and when.",
    ),
    "customer_churn_risk": (
        ("customer_id",),
        "One row per active master customer at as_of (not churned under the warehouse's rule): probability of "
        "being churned 3 months later (logistic model fit on the last 12 labelled month ends), risk band and "
        "the features that raise the risk most, with the features it was scored on.",
    ),
    "churn_calibration": (
        ("bin_low",),
        "Reliability curve of the churn model on its held-out cut-off (the latest labelled month end): per "
        "probability bin, customers, mean predicted probability and observed churn rate. AUC and Brier score "
        "are in ml.model_runs (model churn_risk).",
    ),
    "customer_lifetime_value": (
        ("customer_id",),
        "One row per master customer with a completed order: BG/NBD probability of being alive and expected "
        "purchases over the next 12 months, Gamma-Gamma expected value per purchase, and their product, the "
        "expected 12-month value (site currency, undiscounted).",
    ),
    "clv_calibration": (
        ("decile",),
        "Hold-out check of the lifetime-value models by decile of predicted value (1 = highest): refit on the "
        "purchases before as_of minus the hold-out period, mean predicted vs realised purchases and value per "
        "customer in that period (metrics_json of ml.model_runs, model lifetime_value_bgnbd_gamma_gamma, holds "
        "the period and the totals).",
    ),
}

# output family -> its tables: one Dagster asset per family, so one can fail or be re-run alone. Every family
# records its model runs in STORE_SCHEMA.model_runs; the `ml/model_runs` asset publishes that history.
FAMILIES: dict[str, tuple[str, ...]] = {
    "segments": ("customer_segments", "segment_profiles", "segment_rules", "customer_segments_history"),
    "campaign_effects": ("campaign_effects",),
    "uplift": ("customer_uplift", "uplift_curves"),
    "churn_risk": ("customer_churn_risk", "churn_calibration"),
    "lifetime_value": ("customer_lifetime_value", "clv_calibration"),
}
assert sorted(t for tables in FAMILIES.values() for t in tables) == sorted(set(ML_TABLES) - {"model_runs"})

# Money is DECIMAL(18,2) in every published ml table (site currency): these columns are cast when the
# tables are written. Statistical quantities stay DOUBLE, also when their unit is currency: the per-member
# effect on revenue (estimate, std_error, ci_low, ci_high of outcome 'revenue') is a mean difference kept at
# full precision (rounding it to cents and multiplying by thousands of members would move the campaign
# total by tens), and segment_profiles' mean/median/centroid summarise a feature of any unit.
MONEY_TYPE = "DECIMAL(18,2)"
MONEY_COLUMNS: dict[str, tuple[str, ...]] = {
    "customer_segments": ("monetary", "revenue_per_year"),
    "campaign_effects": ("incremental_revenue", "incremental_revenue_ci_low", "incremental_revenue_ci_high"),
    "customer_churn_risk": ("revenue_365d",),
    "customer_lifetime_value": ("average_repeat_value", "expected_value_per_purchase", "expected_value_12m"),
    "clv_calibration": ("predicted_value", "realised_value"),
}

# ml.campaign_effects as dbt's source reads it; dbt_project/models/reports/rpt_campaign.sql creates it empty
# with the same columns on a cold start (its pre-hook), so keep the two in step.
EFFECT_TYPES = {
    "campaign_id": "VARCHAR",
    "outcome": "VARCHAR",
    "design": "VARCHAR",
    "estimand": "VARCHAR",
    "method": "VARCHAR",
    "is_primary": "BOOLEAN",
    "estimate": "DOUBLE",
    "std_error": "DOUBLE",
    "ci_low": "DOUBLE",
    "ci_high": "DOUBLE",
    "p_value": "DOUBLE",
    "lift_pct": "DOUBLE",
    "lift_ci_low": "DOUBLE",
    "lift_ci_high": "DOUBLE",
    "n_treated": "BIGINT",
    "n_control": "BIGINT",
    "control_conversions": "BIGINT",
    "treatment_members": "BIGINT",
    "incremental_revenue": "DECIMAL(18,2)",
    "incremental_revenue_ci_low": "DECIMAL(18,2)",
    "incremental_revenue_ci_high": "DECIMAL(18,2)",
    "overlap_treated_above_clip": "DOUBLE",
    "overlap_json": "VARCHAR",
    "note": "VARCHAR",
    "as_of": "DATE",
}

# Column descriptions of the published ml tables (issue 13: written as DuckDB comments at publish, see
# orchestration/serving/comments.py). Columns shared by every table come first; a table's own entry wins.
# Money is in the site currency (crm.yml `currency`); `as_of` is the run's logical date, not a clock time.
ML_COMMON_COLUMNS: dict[str, str] = {
    "run_id": "id of the model run that produced the row (ml.model_runs.run_id): model, as_of and a hash of "
              "the training data and parameters",
    "as_of": "the run's logical date (DATE, no clock): the data cut-off the model saw",
    "customer_id": "master customer id (marts.dim_customers.customer_id)",
    "campaign_id": "campaign id (marts.dim_campaigns.campaign_id)",
    "cluster_id": "persistent k-means cluster number (kept stable across retrains by matching centroids)",
    "segment_name": "name of the k-means cluster from its profile of medians against the established "
                    "customers (ml/naming.py rules, first match): new (tenure <= 180 days), bargain hunters "
                    "(discounted lines >= 1.5x), at risk (inactive >= 90 days and 1.5x, or activity trend "
                    "<= 0.6), champions (orders and spend >= 2x), loyal (orders >= 1x) or occasional; "
                    "'high spend'/'low spend' or a number tells apart two clusters of one rule",
    "n_customers": "number of customers (count)",
    "outcome": "the outcome measured in the attribution window: conversion (0/1 per member), revenue (net "
               "revenue per member, site currency) or a behaviour-event count (e.g. visits)",
    "learner": "uplift learner: dr = DR-learner (doubly robust pseudo-outcome regression, default), "
               "t = T-learner (treated model minus control model)",
}
ML_COLUMNS: dict[str, dict[str, str]] = {
    "customer_segments": {
        "rfm_segment": "named RFM segment from the rule table over (r_score, fm_score) (ml/rfm.py RFM_RULES), "
                       "no_purchase for customers without a completed order",
        "rfm_code": "the three RFM scores written together as text, recency then frequency then monetary "
                    "(e.g. '545' = r_score 5, f_score 4, m_score 5); NULL without a completed order",
        "r_score": "recency score 1..5 (quintile among purchasers; 5 = most recent buyers); NULL without a purchase",
        "f_score": "frequency score 1..5 (quintile among purchasers; 5 = most completed orders); NULL without a purchase",
        "m_score": "monetary score 1..5 (quintile among purchasers; 5 = highest net revenue); NULL without a purchase",
        "recency_days": "days from the last completed order to as_of (days); NULL without one",
        "frequency": "completed orders in the RFM window (count)",
        "monetary": "net revenue of the completed orders in the RFM window (site currency, DECIMAL(18,2))",
        "revenue_per_year": "k-means feature: net revenue of completed orders per active year, shrunk toward "
                            "the population rate (site currency per year, DECIMAL(18,2); the model scores "
                            "the unrounded value)",
        "events_per_year": "k-means feature: behaviour events (visits, likes, carts, searches, shares) per "
                           "active year, shrunk toward the population rate (events per year)",
        "social_per_year": "k-means feature: likes and shares per active year, shrunk toward the population "
                           "rate (events per year)",
        "discounted_line_ratio": "k-means feature: share of purchased order lines carrying a discount, shrunk "
                                 "with 3 pseudo-lines at the mean (ratio 0..1)",
        "days_since_last_activity": "k-means feature: days from the last order or behaviour event (or sign-up) "
                                    "to as_of (days)",
        "activity_trend": "k-means feature: behaviour events of the last 120 days divided by the events "
                          "expected from the customer's own rate (ratio; 1 = steady, < 1 slowing down)",
        "observed_tenure_days": "k-means feature: days since the customer's first record or the start of the "
                                "warehouse history, whichever is later (days)",
        "tenure_days": "days since the customer's first record was created, uncapped (days); not a model feature",
    },
    "segment_profiles": {
        "share": "the cluster's share of all scored customers (ratio 0..1)",
        "feature": "name of the model feature this row profiles (a column of ml.customer_segments)",
        "mean": "mean of the feature over the cluster's customers (the feature's own unit)",
        "median": "median of the feature over the cluster's customers (the feature's own unit)",
        "centroid": "the k-means cluster centre on this feature, back-transformed to the feature's own unit",
        "centroid_z": "the cluster centre in standardised log1p units (z-score of log(1 + value)): 0 = the "
                      "average customer, > 0 above it, -1 one standard deviation below",
    },
    "segment_rules": {
        "rule_id": "leaf number of the explaining decision tree",
        "rule": "readable rule of the leaf, conditions joined by AND (e.g. recency_days <= 45.5 AND frequency > 3)",
        "n_customers": "training customers in the leaf (count)",
        "support": "the leaf's share of the training customers (ratio 0..1)",
        "purity": "share of the leaf's customers that belong to its cluster (ratio 0..1)",
    },
    "model_runs": {
        "model": "which model the run fitted or scored (segmentation, campaign effects, uplift)",
        "training_data_hash": "SHA-256 of the training data (equal data gives an equal hash)",
        "n_train": "rows the model was trained or estimated on (count)",
        "params_json": "the run's parameters as JSON (sorted keys)",
        "metrics_json": "the run's metrics as JSON (silhouette, tree fidelity, cluster sizes, retention; effect "
                        "and uplift summaries)",
        "library_versions_json": "versions of the libraries used (numpy, scikit-learn, statsmodels, ...) as JSON",
    },
    "campaign_effects": {
        "design": "randomised (random control group) or observational (targeted campaign, no random control)",
        "estimand": "ate = average effect on all members (randomised), att = average effect on the targeted "
                    "(observational)",
        "method": "estimator: difference_in_means (treated mean minus control mean), lin_hc2 (Lin's "
                  "covariate-adjusted regression with HC2 robust standard errors; primary for randomised), "
                  "naive_difference (targeted minus untargeted, biased: for comparison only), aipw_att "
                  "(augmented inverse-propensity-weighted, doubly robust ATT; primary for targeted campaigns)",
        "is_primary": "true for the one estimate to report per campaign and outcome (lin_hc2 or aipw_att)",
        "estimate": "effect per treated member in outcome units: conversion in probability points (0.03 = "
                    "+3 points), revenue in site currency per member, events per member (DOUBLE: a statistical "
                    "estimate at full precision; the money total is incremental_revenue)",
        "std_error": "standard error of the estimate (outcome units)",
        "ci_low": "lower end of the 95% confidence interval of the estimate (outcome units)",
        "ci_high": "upper end of the 95% confidence interval of the estimate (outcome units)",
        "p_value": "two-sided p-value of no effect (0..1)",
        "lift_pct": "relative lift E in percent: treated outcome sum over its counterfactual sum, minus 1 "
                    "(25.5 = +25.5%); NULL when guarded (too few control conversions)",
        "lift_ci_low": "lower end of the bootstrap 95% CI of lift_pct (percent)",
        "lift_ci_high": "upper end of the bootstrap 95% CI of lift_pct (percent)",
        "n_treated": "treated units analysed: treatment group or targeted members (count)",
        "n_control": "control or comparison units analysed (count)",
        "control_conversions": "members of the control/comparison group with outcome > 0 (count)",
        "treatment_members": "current treatment-group members of the campaign (randomised: the treatment group; "
                             "targeted: every targeted member), analysed or not: the members the campaign's "
                             "cost paid for (count; control members are never contacted)",
        "incremental_revenue": "revenue rows: estimate x treatment_members, the net revenue the campaign added "
                               "over all members its cost paid for (site currency, DECIMAL(18,2)); NULL on "
                               "other outcomes. Assumes the analysed members (n_treated) stand for the rest",
        "incremental_revenue_ci_low": "revenue rows: ci_low x treatment_members, lower end of the 95% CI of "
                                      "incremental_revenue (site currency, DECIMAL(18,2))",
        "incremental_revenue_ci_high": "revenue rows: ci_high x treatment_members, upper end of the 95% CI of "
                                       "incremental_revenue (site currency, DECIMAL(18,2))",
        "overlap_treated_above_clip": "AIPW rows: share of targeted members with a raw propensity above 0.99 "
                                      "(ratio 0..1; high = poor overlap)",
        "overlap_json": "AIPW rows: propensity overlap summary by group as JSON",
        "note": "why a value is NULL, overlap warnings, or the naive row's caveat (text)",
    },
    "customer_uplift": {
        "customer_id": "source customer id of the campaign member",
        "master_customer_id": "master customer id (marts.dim_customers.customer_id)",
        "uplift_score": "out-of-fold predicted effect of the campaign on this member's outcome (outcome units: "
                        "conversion probability points, 0.02 = +2 points)",
        "decile": "decile of uplift_score within the campaign: 1 = highest predicted uplift .. 10 (equal "
                  "scores share a decile)",
        "fold": "cross-fitting fold (0..K-1) whose held-out part scored the member",
    },
    "uplift_curves": {
        "fraction_targeted": "fraction of the campaign's members targeted, highest scores first (ratio 0..1)",
        "n_targeted": "members targeted at this point (count)",
        "qini": "Qini curve: incremental outcome among the targeted (treated outcome minus control outcome "
                "scaled to the treated count), per campaign member (outcome units per member)",
        "qini_random": "the Qini value random targeting would give at this fraction: fraction_targeted x qini "
                       "at 100% (outcome units per member); the curve's baseline",
        "cumulative_gain": "cumulative gain: (treated mean - control mean) among the targeted x number "
                           "targeted, per campaign member (outcome units per member)",
        "uplift_in_top": "treated mean minus control mean among the targeted fraction (outcome units; NULL at 0)",
    },
    "customer_segments_history": {
        "valid_from": "as_of of the segmentation run where this version first appeared (DATE)",
        "valid_to": "as_of of the run where it stopped holding (exclusive, DATE); NULL while current",
        "is_current": "true for the customer's version of the latest run",
        "rfm_segment": "named RFM segment of the version (see ml.customer_segments)",
        "previous_segment_name": "segment_name of the customer's version before this one (NULL on its first)",
        "previous_rfm_segment": "rfm_segment of the customer's version before this one (NULL on its first)",
        "moved": "true when segment_name differs from previous_segment_name (false on the first version; a "
                 "change of the RFM segment or cluster alone opens a version with moved false)",
        "as_of": "the run's logical date: the last segmentation run folded into the history",
    },
    "customer_churn_risk": {
        "churn_probability": "probability that the customer, active at as_of, is churned 3 months later under the "
                             "warehouse's churn rule (no completed order or behaviour event for 180 days) (0..1)",
        "risk_band": "low (probability < 0.2), medium (0.2 to < 0.5) or high (>= 0.5)",
        "reason_1": "the feature that raises this customer's risk the most (its additive share of the log-odds "
                    "is the largest positive one); NULL when no feature raises it",
        "reason_2": "the feature that raises the risk second most; NULL when fewer raise it",
        "reason_3": "the feature that raises the risk third most; NULL when fewer raise it",
        "days_since_last_engagement": "days from the last completed order or behaviour event (or the first "
                                      "created date) to as_of (days)",
        "tenure_days": "days from the customer's first created date to as_of (days)",
        "orders_365d": "completed orders in the 365 days ending on as_of (count)",
        "revenue_365d": "their net revenue (site currency, DECIMAL(18,2))",
        "events_90d": "behaviour events in the 90 days ending on as_of (count)",
        "events_91_365d": "behaviour events in the 275 days before those 90 (count)",
        "tickets_180d": "service tickets opened in the 180 days ending on as_of (count)",
    },
    "churn_calibration": {
        "bin_low": "lower end of the probability bin (inclusive, 0..1)",
        "bin_high": "upper end of the probability bin (exclusive; the last bin includes 1)",
        "customers": "held-out customers whose predicted probability falls in the bin (count)",
        "mean_predicted": "mean predicted churn probability in the bin (0..1)",
        "observed_rate": "share of them that churned within the 3 months (0..1); close to mean_predicted = calibrated",
    },
    "customer_lifetime_value": {
        "frequency": "repeat purchase days: days with a completed order after the first one (count)",
        "recency_weeks": "weeks from the first to the last purchase day (weeks)",
        "tenure_weeks": "weeks from the first purchase day to as_of (weeks)",
        "average_repeat_value": "mean net revenue of the repeat purchase days; 0 without one (site currency, "
                                "DECIMAL(18,2))",
        "probability_alive": "BG/NBD probability that the customer is still buying at as_of (0..1)",
        "expected_purchases_12m": "BG/NBD expected purchase days in the 365 days after as_of (count)",
        "expected_value_per_purchase": "Gamma-Gamma expected net revenue of one future purchase (site currency, "
                                       "DECIMAL(18,2))",
        "expected_value_12m": "expected_purchases_12m x expected_value_per_purchase: the expected net revenue "
                              "of the next 12 months, undiscounted (site currency, DECIMAL(18,2))",
    },
    "clv_calibration": {
        "decile": "decile of predicted hold-out value: 1 = highest 10% of customers .. 10",
        "customers": "customers of the calibration period in the decile (count)",
        "predicted_purchases": "mean predicted purchase days per customer in the hold-out period (count)",
        "realised_purchases": "mean actual purchase days per customer in the hold-out period (count)",
        "predicted_value": "mean predicted net revenue per customer in the hold-out period (site currency)",
        "realised_value": "mean actual net revenue per customer in the hold-out period (site currency)",
    },
}


def ml_column_description(table: str, column: str) -> str | None:
    """The description of one published ml column (the table's own entry, else the shared one)."""
    return ML_COLUMNS.get(table, {}).get(column) or ML_COMMON_COLUMNS.get(column)
