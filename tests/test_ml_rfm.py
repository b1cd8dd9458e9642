"""RFM scores and segments (ml.rfm) and tie-aware quantile scores (ml.ranking) on hand-built frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml.ranking import mid_percentiles, tied_quantile_scores
from ml.rfm import NO_PURCHASE, RFM_RULES, SEGMENT_ORDER, rfm_rule_grid, rfm_scores, rfm_segment


def test_quintiles_without_ties_are_equal_sized():
    s = tied_quantile_scores(np.arange(100), 5)
    assert np.bincount(s.astype(int))[1:].tolist() == [20] * 5
    assert s[0] == 1 and s[-1] == 5


def test_equal_values_share_a_score_and_block_lands_at_its_midpoint():
    # 10 values: a block of six 1s spans percentiles 0..0.6 -> midpoint 0.3 -> score 2 for all of them
    v = np.array([1, 1, 1, 1, 1, 1, 2, 3, 4, 5])
    s = tied_quantile_scores(v, 5)
    assert set(s[:6]) == {2.0}
    assert s[6:].tolist() == [4.0, 4.0, 5.0, 5.0]
    assert np.allclose(mid_percentiles([3, 1, 3]), [2 / 3, 1 / 6, 2 / 3])


def test_constant_column_scores_the_middle_and_nan_stays_nan():
    s = tied_quantile_scores([7, 7, np.nan, 7], 5)
    assert s[[0, 1, 3]].tolist() == [3.0, 3.0, 3.0] and np.isnan(s[2])


def test_lower_is_better_reverses():
    s = tied_quantile_scores([1, 2, 3, 4, 5], 5, higher_is_better=False)
    assert s.tolist() == [5, 4, 3, 2, 1]


def test_rule_table_tiles_the_grid_once():
    grid = rfm_rule_grid()
    assert grid.shape == (5, 5) and grid.notna().all().all()
    cells = sum((r.r_max - r.r_min + 1) * (r.fm_max - r.fm_min + 1) for r in RFM_RULES.itertuples())
    assert cells == 25
    assert set(RFM_RULES["segment"]) | {NO_PURCHASE} == set(SEGMENT_ORDER)
    assert rfm_segment(5, 5) == "champions" and rfm_segment(1, 1) == "lost" and rfm_segment(1, 5) == "cant_lose"


def _customers():
    return pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"],
            "recency_days": [1, 1, 2, 10, 30, 60, 90, 200, 365, np.nan, 5],
            "frequency": [12, 12, 8, 5, 4, 3, 2, 2, 1, 0, np.nan],
            "monetary": [900, 900, 500, 300, 200, 150, 100, 80, 20, 0, np.nan],
        }
    )


def test_no_purchase_gets_no_scores():
    out = rfm_scores(_customers())
    np_rows = out[out["customer_id"].isin(["j", "k"])]
    assert (np_rows["rfm_segment"] == NO_PURCHASE).all()
    assert np_rows[["r_score", "f_score", "m_score", "fm_score"]].isna().all().all()
    assert np_rows["rfm_code"].isna().all()
    assert out["r_score"].dtype == "Int64"


def test_scores_ignore_non_buyers_and_ties_share():
    out = rfm_scores(_customers()).set_index("customer_id")
    assert out.loc["a", "r_score"] == out.loc["b", "r_score"] == 5
    assert out.loc["a", "f_score"] == out.loc["b", "f_score"]
    assert out.loc["i", "r_score"] == 1 and out.loc["i", "f_score"] == 1
    assert out.loc["a", "rfm_segment"] == "champions"
    assert out.loc["i", "rfm_segment"] == "lost"
    # codes are the three digits
    assert out.loc["a", "rfm_code"] == f"{out.loc['a', 'r_score']}{out.loc['a', 'f_score']}{out.loc['a', 'm_score']}"
    assert list(out.index) == list("abcdefghijk")  # input order kept


def test_fm_rounds_half_up_and_segment_follows_grid():
    out = rfm_scores(_customers())
    buyers = out[out["rfm_segment"] != NO_PURCHASE]
    fm = np.floor((buyers["f_score"].astype(int) + buyers["m_score"].astype(int) + 1) / 2).astype(int)
    assert (buyers["fm_score"].astype(int) == fm).all()
    assert all(rfm_segment(r, f) == s for r, f, s in zip(buyers["r_score"], buyers["fm_score"], buyers["rfm_segment"], strict=True))


def test_index_input_and_errors():
    df = _customers().set_index("customer_id")
    assert rfm_scores(df)["customer_id"].tolist() == list("abcdefghijk")
    with pytest.raises(ValueError, match="unique"):
        rfm_scores(pd.concat([df, df.iloc[:1]]))
    with pytest.raises(ValueError, match="missing column"):
        rfm_scores(df.drop(columns="monetary"))
    bad = df.copy()
    bad.loc["a", "recency_days"] = np.nan
    with pytest.raises(ValueError, match="recency_days"):
        rfm_scores(bad)
