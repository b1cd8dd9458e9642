"""Campaign effects family: ml.campaign_effects (campaign x outcome x method, one primary estimate per pair)
and its ml.model_runs row, from the campaign units of the dbt model ml_inputs.ml_campaign_units (read by
`inputs.py`; models: `ml.effects`).

Imported only when the `ml_campaign_effects` asset runs (it imports scikit-learn and statsmodels).
"""

import time
from collections.abc import Callable
from datetime import date

import duckdb
import numpy as np
import pandas as pd

from ml import estimate_campaign_effects, model_run_record
from ml.hashing import frame_hash
from orchestration.ml_assets import inputs
from orchestration.ml_assets.params import EFFECT_PARAMS, INCREMENTAL_OUTCOME, RANDOM_STATE
from orchestration.ml_assets.settings import MlSettings
from orchestration.ml_assets.store import write_family
from orchestration.ml_assets.tables import EFFECT_TYPES


def with_incremental_revenue(effects: pd.DataFrame, treatment_members: pd.Series) -> pd.DataFrame:
    """`effects` plus treatment_members (per campaign: the members its cost paid for) and, on rows of the
    revenue outcome, incremental_revenue (+ CI) = the per-member revenue effect (and its CI ends) x
    treatment_members; NaN on other outcomes and where the estimate is missing.

    Why not x n_treated: the cost covers every treatment-group member, while the estimate may analyse
    fewer of them (windows still open at as_of, targeted members without prior activity); scaling the
    revenue to the cost's population makes (incremental revenue - cost) / cost an ROI of one population.
    It assumes the analysed members stand for the others (the ATE/ATT extrapolated to them)."""
    members = effects["campaign_id"].map(treatment_members)
    members = members.fillna(effects["n_treated"]).astype("int64")
    money = (effects["outcome"] == INCREMENTAL_OUTCOME).to_numpy()
    out = effects.assign(treatment_members=members)
    for col, src in (("incremental_revenue", "estimate"), ("incremental_revenue_ci_low", "ci_low"),
                     ("incremental_revenue_ci_high", "ci_high")):
        out[col] = np.where(money, out[src].astype(float) * members, np.nan)
    return out


def effect_tables(
    units: pd.DataFrame,
    as_of: date,
    settings: MlSettings | None = None,
    treatment_members: pd.Series | None = None,
) -> tuple[dict[str, pd.DataFrame], dict]:
    """{"campaign_effects": frame, "model_runs": its run row}; a summary for the UI.

    `settings` (crm.yml `ml:`) chooses the outcomes and covariates (`inputs.covariate_matrix` says how they
    are encoded). `treatment_members` (campaign_id -> members the cost paid for,
    `inputs.campaign_treatment_members`) scales the revenue effect to the incremental revenue
    (`with_incremental_revenue`); default: the treated units analysed."""
    settings = settings or MlSettings()
    covs = list(settings.campaign_covariates)
    outcomes = list(settings.campaign_outcomes)
    matrix = inputs.covariate_matrix(settings)
    if units.empty:
        effects = pd.DataFrame(columns=list(EFFECT_TYPES)[:-1])
    else:
        effects = estimate_campaign_effects(
            units, covs, outcomes, None, random_state=RANDOM_STATE, **EFFECT_PARAMS, **matrix
        )
        if treatment_members is None:
            treatment_members = units[units["treated"] == 1].groupby("campaign_id").size()
        effects = with_incremental_revenue(effects, treatment_members)
    params = {**EFFECT_PARAMS, "covariates": covs, "outcomes": outcomes, **matrix}
    primary = effects[effects["is_primary"].astype(bool)]
    metrics = {
        "campaigns": int(effects["campaign_id"].nunique()),
        "pairs": len(primary),
        "significant_at_5pct": int((primary["p_value"] < 0.05).sum()),
        "by_design": {str(k): int(v) for k, v in primary.groupby("design")["campaign_id"].nunique().items()},
    }
    data_hash = frame_hash(inputs.campaign_model_inputs(units, settings).reset_index(drop=True))
    run = model_run_record("campaign_effects", data_hash, len(units), params, metrics, as_of.isoformat())
    return {"campaign_effects": effects, "model_runs": run}, {**metrics, "units": len(units)}


def build_campaign_effects(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    log: Callable[[str], None] = print,
    settings: MlSettings | None = None,
) -> tuple[dict[str, int], dict]:
    """Read the campaign units and the paid-for members at `as_of`, estimate the effects and write
    ml.campaign_effects with its run row in one transaction. Returns (rows per table, summary)."""
    started = time.perf_counter()
    units = inputs.campaign_units(con, as_of)
    paid_for = inputs.campaign_treatment_members(con)
    t_inputs = time.perf_counter()
    tables, summary = effect_tables(units, as_of, settings, paid_for)
    t_model = time.perf_counter()
    counts = write_family(con, tables, as_of)
    summary.update(inputs_seconds=round(t_inputs - started, 2), seconds=round(t_model - t_inputs, 2),
                   total_seconds=round(time.perf_counter() - started, 2))
    log(f"campaign effects: inputs {t_inputs - started:.1f} s, model {t_model - t_inputs:.1f} s, "
        f"total {summary['total_seconds']:.1f} s")
    return counts, summary
