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
