"""The `ml:` section of crm.yml (orchestration/ml_assets/settings.py): defaults, outcomes, covariates, errors."""

from __future__ import annotations

import pytest

from orchestration.errors import CrmWarehouseError
from orchestration.ml_assets.inputs import CAMPAIGN_COVARIATE_COLUMNS, UNIT_COLUMNS
from orchestration.ml_assets.settings import (
    ATTRIBUTE_COVARIATES,
    EVENT_OUTCOME_COLUMNS,
    EVENT_TYPES,
    MlSettings,
)

WHERE = "landing/crm.yml: ml"


def test_defaults_are_the_previous_fixed_lists():
    s = MlSettings.from_mapping({}, WHERE)
    assert s == MlSettings()
    assert s.campaign_outcomes == ("conversion", "revenue")
    assert s.campaign_covariates == ("recency_days", "frequency", "monetary", "visits_90d", "tickets_365d")
    assert s.rfm_window_days is None and s.categorical_covariates == ()


def test_event_outcomes_come_from_the_contract():
    assert EVENT_TYPES == ("visit", "like", "cart", "purchase", "search", "share")
    assert EVENT_OUTCOME_COLUMNS["visit"] == "visits" and EVENT_OUTCOME_COLUMNS["search"] == "searches"
    s = MlSettings.from_mapping({"campaign_outcomes": ["conversion", "visit", "visits", "share"]}, WHERE)
    assert s.campaign_outcomes == ("conversion", "visits", "shares")
    # the units frame reads one count column per event type (the dbt model ml_campaign_units names them with
    # the macro ml_event_outcome_column; tests/test_ml_families.py checks the built model has these columns)
    assert UNIT_COLUMNS[-len(EVENT_TYPES):] == tuple(EVENT_OUTCOME_COLUMNS.values())
    assert all(column.isidentifier() for column in UNIT_COLUMNS)


def test_covariates_mix_pre_period_features_and_attributes():
    s = MlSettings.from_mapping(
        {"campaign_covariates": "recency_days, region, tenure_days, customer_type", "rfm_window_days": 365,
         "covariate_min_frequency": 5},
        WHERE,
    )
    assert s.campaign_covariates == ("recency_days", "region", "tenure_days", "customer_type")
    assert s.categorical_covariates == ("region", "customer_type")
    assert s.rfm_window_days == 365 and s.covariate_min_frequency == 5
    assert set(ATTRIBUTE_COVARIATES) | {"recency_days", "tenure_days"} <= set(CAMPAIGN_COVARIATE_COLUMNS)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"campaign_outcomes": ["clicks"]}, r"ml\.campaign_outcomes: unknown outcome 'clicks'; valid outcomes: "
                                            r"conversion, revenue, visit, like, cart, purchase, search, share"),
        ({"campaign_covariates": ["status", "region"]}, r"ml\.campaign_covariates: unknown covariate\(s\) 'status';"
                                                        r" valid covariates: pre-period features recency_days"),
        ({"campaign_covariates": []}, r"ml\.campaign_covariates: expected a non-empty list"),
        ({"rfm_window_days": 0}, r"ml\.rfm_window_days: expected a positive number of days or null"),
        ({"rfm_window_days": "a year"}, r"ml\.rfm_window_days"),
        ({"covariate_min_frequency": -1}, r"ml\.covariate_min_frequency"),
        ({"campaign_outcome": ["visit"]}, r"crm\.yml: ml: unknown key\(s\) campaign_outcome"),
        (["visit"], r"crm\.yml: ml: expected a mapping"),
    ],
)
def test_errors_name_the_file_and_key(data, message):
    with pytest.raises(CrmWarehouseError, match=message):
        MlSettings.from_mapping(data, WHERE)
