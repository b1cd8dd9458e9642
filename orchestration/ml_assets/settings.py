"""Model settings of a site: the `ml:` section of `crm.yml` (orchestration/site.py reads the file).

```yaml
ml:
  campaign_outcomes: [conversion, revenue, visit]   # what a campaign's effect is estimated on
  campaign_covariates: [recency_days, frequency, monetary, visits_90d, tickets_365d, region, tenure_days]
  rfm_window_days: null                               # null = the full history
  covariate_min_frequency: 20                         # rarer categories share one "infrequent" column
```

* `campaign_outcomes`: `conversion`, `revenue` and any behaviour event type of the extract contract
  (`behavior_events.event_type`: visit, like, cart, purchase, search, share), each counted per unit in
  its attribution window. An event outcome may be written as the type (`visit`) or as its column name
  (`visits`); it is stored as the column name (`visits`), which is also the `outcome` of
  ml.campaign_effects. The first outcome is not special: rpt_campaign reads `conversion` and `revenue`.
* `campaign_covariates`: pre-assignment features of the dbt model `ml_inputs.ml_campaign_units`
  (`PRE_PERIOD_COVARIATES`, measured strictly before each unit's assigned_at) and customer attributes
  recorded at sign-up (`ATTRIBUTE_COVARIATES`, from marts.dim_customers; categorical ones are one-hot
  encoded). Lifetime measures of dim_customers (status, order counts, lifetime value, churn) are not
  offered: they are measured after the assignment (leakage).
* `rfm_window_days`: recency, tenure, frequency and monetary of the segmentation look back this many days
  (a positive integer), or over the full history (`null`, the default). Never a cap: a customer without
  a purchase in the window has a NULL recency.
* `covariate_min_frequency`: categories with fewer units in a campaign are grouped (OneHotEncoder
  `min_frequency`).

Errors name the file and the key (`<file>: ml.<key>`) and list the valid values.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestration import contract
from orchestration.errors import CrmWarehouseError

#: behaviour event types of the contract: each is an outcome (its count `<type>s` in the window)
EVENT_TYPES: tuple[str, ...] = tuple(contract.entity("behavior_events").column("event_type").codes or ())
#: outcome column of each event type (an SQL identifier built from the contract allow-list only)
EVENT_OUTCOME_COLUMNS: dict[str, str] = {
    t: t + ("es" if t.endswith(("s", "sh", "ch", "x")) else "s") for t in EVENT_TYPES
}
BASE_OUTCOMES = ("conversion", "revenue")
OUTCOMES: tuple[str, ...] = (*BASE_OUTCOMES, *EVENT_OUTCOME_COLUMNS.values())

#: numeric pre-assignment features of ml_inputs.ml_campaign_units (measured strictly before assigned_at)
PRE_PERIOD_COVARIATES = (
    "recency_days",
    "frequency",
    "monetary",
    "visits_90d",
    "events_90d",
    "tickets_365d",
    "tenure_days",
)
#: customer attributes of marts.dim_customers recorded at sign-up (categorical: one-hot encoded)
ATTRIBUTE_COVARIATES = ("gender", "age_band", "occupation", "city", "region", "country", "customer_type", "source")
COVARIATES: tuple[str, ...] = (*PRE_PERIOD_COVARIATES, *ATTRIBUTE_COVARIATES)

DEFAULT_OUTCOMES = ("conversion", "revenue")
DEFAULT_COVARIATES = ("recency_days", "frequency", "monetary", "visits_90d", "tickets_365d")
DEFAULT_MIN_FREQUENCY = 20
KNOWN_KEYS = ("campaign_outcomes", "campaign_covariates", "rfm_window_days", "covariate_min_frequency")


def _name_list(value: object, where: str, what: str) -> list[str]:
    if isinstance(value, str):
        value = [v for v in (p.strip() for p in value.split(",")) if v]
    if not isinstance(value, list | tuple) or not value or not all(isinstance(v, str) for v in value):
        raise CrmWarehouseError(f"{where}: expected a non-empty list of {what} names")
    return list(value)


def _outcomes(value: object, where: str) -> tuple[str, ...]:
    names = _name_list(value, where, "outcome")
    out: list[str] = []
    for name in names:
        column = EVENT_OUTCOME_COLUMNS.get(name, name)
        if column not in OUTCOMES:
            valid = ", ".join((*BASE_OUTCOMES, *EVENT_TYPES))
            raise CrmWarehouseError(f"{where}: unknown outcome {name!r}; valid outcomes: {valid} "
                                    f"(an event type may also be written as its count column, e.g. visits)")
        if column not in out:
            out.append(column)
    return tuple(out)


def _covariates(value: object, where: str) -> tuple[str, ...]:
    names = _name_list(value, where, "covariate")
    unknown = [n for n in names if n not in COVARIATES]
    if unknown:
        raise CrmWarehouseError(
            f"{where}: unknown covariate(s) {', '.join(map(repr, unknown))}; valid covariates: pre-period "
            f"features {', '.join(PRE_PERIOD_COVARIATES)}; customer attributes {', '.join(ATTRIBUTE_COVARIATES)}"
        )
    return tuple(dict.fromkeys(names))


def _positive_int_or_none(value: object, where: str, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise CrmWarehouseError(f"{where}: expected {what}, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class MlSettings:
    """The `ml:` section, validated (see the module docstring for each key)."""

    campaign_outcomes: tuple[str, ...] = DEFAULT_OUTCOMES
    campaign_covariates: tuple[str, ...] = DEFAULT_COVARIATES
    rfm_window_days: int | None = None
    covariate_min_frequency: int = DEFAULT_MIN_FREQUENCY

    @property
    def categorical_covariates(self) -> tuple[str, ...]:
        """The configured covariates that are customer attributes (one-hot encoded)."""
        return tuple(c for c in self.campaign_covariates if c in ATTRIBUTE_COVARIATES)

    @classmethod
    def from_mapping(cls, data: dict, where: str) -> MlSettings:
        """Validated settings from the parsed `ml:` mapping; `where` is `<file>: ml` (named in errors)."""
        if not isinstance(data, dict):
            raise CrmWarehouseError(f"{where}: expected a mapping with keys {', '.join(KNOWN_KEYS)}")
        unknown = sorted(set(data) - set(KNOWN_KEYS))
        if unknown:
            raise CrmWarehouseError(f"{where}: unknown key(s) {', '.join(unknown)}; expected {', '.join(KNOWN_KEYS)}")
        outcomes = data.get("campaign_outcomes")
        covariates = data.get("campaign_covariates")
        min_freq = _positive_int_or_none(data.get("covariate_min_frequency"), f"{where}.covariate_min_frequency",
                                         "a positive integer (units per category)")
        return cls(
            campaign_outcomes=_outcomes(outcomes, f"{where}.campaign_outcomes")
            if outcomes is not None else DEFAULT_OUTCOMES,
            campaign_covariates=_covariates(covariates, f"{where}.campaign_covariates")
            if covariates is not None else DEFAULT_COVARIATES,
            rfm_window_days=_positive_int_or_none(data.get("rfm_window_days"), f"{where}.rfm_window_days",
                                                  "a positive number of days or null (full history)"),
            covariate_min_frequency=DEFAULT_MIN_FREQUENCY if min_freq is None else min_freq,
        )
