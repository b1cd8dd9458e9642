"""Customer segments and campaign effects: plain functions on DataFrames (no Dagster, no file paths).

| module          | job                                                                                  | feeds table            |
|-----------------|--------------------------------------------------------------------------------------|------------------------|
| `rfm`           | RFM scores (tie-aware quintiles) and the named-segment rule table                    | ml.customer_segments   |
| `clustering`    | `SegmentModel`: log1p → scale → k-means, k by silhouette; `save_model`/`load_model`  | ml.customer_segments   |
| `silhouette`    | silhouettes of several labelings in one pass                                         | (model metrics)        |
| `stability`     | Hungarian matching of centroids, profile-derived names, label retention              | ml.customer_segments   |
| `explain`       | entropy decision tree, rules as text, fidelity                                       | ml.segment_rules       |
| `segmentation`  | `segment_customers` (retrain) / `customer_segments_frame` (nightly scoring)          | all segment tables     |
| `runs`          | `model_run_record`: run id, library versions, data hash, params, metrics             | ml.model_runs          |
| `effects`       | `estimate_campaign_effects`: difference in means, Lin (HC2), AIPW; lift E            | ml.campaign_effects    |
| `lift`          | E on sums, its guard, stratified bootstrap                                           | ml.campaign_effects    |
| `aipw`          | cross-fitted AIPW ATT, influence-function SE, overlap diagnostics                    | ml.campaign_effects    |
| `uplift`        | cross-fitted DR-/T-learner scores, deciles, held-out evaluation                      | ml.customer_uplift     |
| `qini`          | Qini coefficient, AUUC, uplift@k, curve points                                       | ml.uplift_curves       |
| `nuisance`      | propensity / outcome models shared by `aipw` and `uplift`                            | —                      |
| `ranking`, `hashing`, `validation`, `threads` | small helpers                                          | —                      |
| `clv`           | BG/NBD purchases and P(alive), Gamma-Gamma value per purchase (published likelihoods, scipy) | (issue 14: ml.customer_lifetime_value) |
| `churn_risk`    | logistic churn-risk pipeline, exact per-feature reasons, AUC/Brier/reliability curve    | (issue 14: ml.customer_churn_risk) |
| `simulate`      | synthetic frames with known truth (tests, calibration, benchmark)                    | —                      |

Every function is deterministic given its `random_state`; none reads the clock or the environment.
"""

from .clustering import SegmentModel, load_model, save_model
from .effects import estimate_campaign_effects
from .rfm import rfm_rule_table, rfm_scores
from .runs import model_run_record
from .segmentation import customer_segments_frame, segment_customers
from .uplift import score_campaign_uplift

__all__ = [
    "SegmentModel",
    "customer_segments_frame",
    "estimate_campaign_effects",
    "load_model",
    "model_run_record",
    "rfm_rule_table",
    "rfm_scores",
    "save_model",
    "score_campaign_uplift",
    "segment_customers",
]
