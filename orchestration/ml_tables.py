"""The ML stage's tables: names, grains and descriptions (a fixed allow-list, also used as SQL identifiers),
and the column types of ml.campaign_effects. Plain constants, so the Dagster definitions can describe the
ML assets without importing scikit-learn (orchestration/ml_build.py, which computes them, is imported only
when the ML step runs)."""

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
        "p-value and relative lift E.",
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
    "overlap_treated_above_clip": "DOUBLE",
    "overlap_json": "VARCHAR",
    "note": "VARCHAR",
    "as_of": "DATE",
}
