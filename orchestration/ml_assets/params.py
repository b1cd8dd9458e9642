"""Model parameters of the three ML families (one place to tune them; each run records them in
ml.model_runs.params_json). Plain constants: importing this module imports no scikit-learn."""

RANDOM_STATE = 0

# segments (orchestration/ml_assets/segments.py)
SEGMENT_PARAMS = {"k_range": (2, 8), "n_init": 4, "max_depth": 4}
SILHOUETTE_SAMPLE = 10_000

# campaign effects (orchestration/ml_assets/effects.py)
EFFECT_PARAMS = {"n_bootstrap": 500, "n_folds": 5, "learner": "linear", "alpha": 0.05}
INCREMENTAL_OUTCOME = "revenue"  # the outcome whose effect, scaled to the paid-for members, is money

# uplift (orchestration/ml_assets/uplift.py). "linear" nuisances: as good as gradient boosting on the campaign
# covariates (monotone in log counts and money) at a fraction of the cost; see ml/uplift.py for the learners.
UPLIFT_PARAMS = {"learner": "dr", "nuisance": "linear", "final": "linear", "n_folds": 5}
UPLIFT_OUTCOME = "conversion"
MIN_UPLIFT_ARM = 10 * UPLIFT_PARAMS["n_folds"]  # members per arm below which a campaign gets no uplift score

# churn risk (orchestration/ml_assets/churn.py): the label horizon and training months are set where the
# frame is built (dbt_project/models/ml_inputs/ml_churn_features.sql); here the model's own choices
CHURN_PARAMS = {"model": "logistic_l2", "C": 1.0, "top_reasons": 3, "horizon_months": 3, "reliability_bins": 10}

# lifetime value (orchestration/ml_assets/clv.py): BG/NBD + Gamma-Gamma in weeks, value over 12 months;
# the hold-out check predicts the last min(365 days, half the purchase history) from what came before
CLV_PARAMS = {"time_unit_days": 7.0, "horizon_days": 365, "max_holdout_days": 365, "deciles": 10}
