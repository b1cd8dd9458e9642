"""Scale benchmark for `ml`: segmentation of N customers and uplift scoring of N campaign members.

    .venv/bin/python bench/ml_scale.py [--n 1000000] [--seed 0]

Prints one JSON document (timings in seconds, sizes, key metrics) and a small table. Target (issue 6,
acceptance 6): each step under 60 s on 2 cores at N = 1 000 000. Not a pytest test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

from ml.clustering import load_model, save_model
from ml.qini import qini_coefficient
from ml.segmentation import customer_segments_frame, segment_customers
from ml.simulate import COVARIATES, simulate_customers, simulate_uplift
from ml.uplift import score_campaign_uplift


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    n = args.n

    (feats, _truth), t_sim_c = _timed(lambda: simulate_customers(n, random_state=args.seed))
    seg, t_seg = _timed(lambda: segment_customers(feats, k_range=(2, 8), as_of="bench", random_state=args.seed))
    blob, t_save = _timed(lambda: save_model(seg.model))
    nightly, t_score = _timed(lambda: customer_segments_frame(load_model(blob), feats, run_id="bench"))

    members, t_sim_u = _timed(lambda: simulate_uplift(n, random_state=args.seed))
    upl, t_upl = _timed(lambda: score_campaign_uplift(members, COVARIATES, "conversion", "randomised",
                                                      random_state=args.seed))
    scores = upl.customer_uplift["uplift_score"].to_numpy()
    q_learned = qini_coefficient(members["conversion"], members["treated"], scores)
    q_true = qini_coefficient(members["conversion"], members["treated"], members["true_effect"])

    result = {
        "n": n,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "segmentation": {
            "fit_and_tables_s": round(t_seg, 2),
            "save_model_s": round(t_save, 3),
            "nightly_scoring_s": round(t_score, 2),
            "k": seg.model.n_clusters_,
            "algorithm": seg.model.algorithm_,
            "silhouette": round(seg.model.silhouette_, 4),
            "fidelity": round(seg.explanation.fidelity, 4),
            "model_bytes": len(blob),
            "rows": len(nightly),
        },
        "uplift": {
            "cross_fit_score_and_evaluate_s": round(t_upl, 2),
            "learner": "dr (hgb nuisances, linear final), 5 folds",
            "qini_learned": round(q_learned, 6),
            "qini_true_effects": round(q_true, 6),
            "rows": len(scores),
        },
        "simulate_s": {"customers": round(t_sim_c, 2), "members": round(t_sim_u, 2)},
    }
    print(json.dumps(result, indent=2))
    print()
    print(f"{'step':<42}{'rows':>10}{'seconds':>10}{'< 60 s':>8}")
    for name, rows, secs in [
        ("segmentation: fit (k 2..8) + explain + tables", n, t_seg),
        ("segmentation: nightly scoring (saved model)", n, t_score),
        ("uplift: 5-fold DR cross-fit + evaluation", n, t_upl),
    ]:
        print(f"{name:<42}{rows:>10,}{secs:>10.1f}{'yes' if secs < 60 else 'NO':>8}")


if __name__ == "__main__":
    main()
