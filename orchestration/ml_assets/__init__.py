"""The ML stage of the orchestration layer, in one folder (the estimators themselves are plain functions in
the top-level `ml/` package: no Dagster, no files):

| module        | job                                                                                   |
|---------------|---------------------------------------------------------------------------------------|
| `assets.py`   | the Dagster assets, one per output family (segments, campaign effects, uplift) plus ml/model_runs; the weekly retrain job and schedule |
| `tables.py`   | the ml tables: names, grains, descriptions, families, column types (no scikit-learn)   |
| `settings.py` | the `ml:` section of crm.yml, validated                                               |
| `params.py`   | model parameters of the three families                                                |
| `inputs.py`   | reading the input frames: the dbt models of dbt_project/models/ml_inputs/ (the run's as_of) |
| `segments.py`, `effects.py`, `uplift.py` | each family: input frames -> `ml/` models -> its tables      |
| `store.py`    | writing a family's tables and run rows in one transaction; the run log -> ml.model_runs |

Importing this package (or `tables`, `settings`, `params`) imports neither Dagster nor scikit-learn.
"""
