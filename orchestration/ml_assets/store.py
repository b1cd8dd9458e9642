"""Writing the ml tables of the work file: one family's tables in one transaction, the run log, ml.model_runs.

Each family asset calls `write_family`: its tables are replaced (CREATE OR REPLACE, rows sorted by their grain,
money cast to DECIMAL, floats rounded) and its model runs recorded in the private run log
`ml_store.model_runs` (history: every run of every model so far; a run id seen before is replaced), together,
so a family's tables and its run record never disagree. `publish_model_runs` (the `ml/model_runs` asset)
copies the log to ml.model_runs. A warehouse built before the log existed seeds it from its ml.model_runs.

Table and schema names come from the allow-list of orchestration/ml_assets/tables.py, never from data.
"""

from collections.abc import Callable
from datetime import date

import duckdb
import pandas as pd

from ml.runs import MODEL_RUN_COLUMNS
from orchestration.ml_assets.tables import EFFECT_TYPES, ML_TABLES, MONEY_COLUMNS, MONEY_TYPE, STORE_SCHEMA

FLOAT_DECIMALS = 10  # far below any meaningful precision, far above floating-point noise
RUN_COLUMNS = ", ".join(MODEL_RUN_COLUMNS)


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    """Whether schema.table exists (fetchall: DuckDB 2 refuses `register` while a result is unfinished)."""
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            [schema, table],
        ).fetchall()[0][0]
    )


def _rounded(frame: pd.DataFrame) -> pd.DataFrame:
    """Float columns rounded to FLOAT_DECIMALS places. The same data reached by a different build order
    (day by day vs one full refresh) can differ in the last bits of a float (summation order inside BLAS
    and DuckDB); rounding makes the published tables identical, as the incremental-parity test requires."""
    floats = frame.select_dtypes(include="floating").columns
    return frame.assign(**{c: frame[c].round(FLOAT_DECIMALS) for c in floats}) if len(floats) else frame


def _write_table(con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame, as_of: date) -> None:
    keys, _ = ML_TABLES[name]  # `name` is a key of the allow-list (KeyError otherwise)
    con.register("ml_frame", _rounded(frame.assign(as_of=as_of)))
    if name == "campaign_effects":  # fixed column types: dbt's source (and its cold-start stub) match
        select = ", ".join(f"CAST({c} AS {t}) AS {c}" for c, t in EFFECT_TYPES.items())
    elif name in MONEY_COLUMNS:  # money is DECIMAL (identifiers from the allow-list)
        casts = ", ".join(f"CAST({c} AS {MONEY_TYPE}) AS {c}" for c in MONEY_COLUMNS[name])
        select = f"* REPLACE ({casts})"
    else:
        select = "*"
    con.execute(f"CREATE OR REPLACE TABLE ml.{name} AS SELECT {select} FROM ml_frame ORDER BY {', '.join(keys)}")
    con.unregister("ml_frame")


def _ensure_run_log(con: duckdb.DuckDBPyConnection, like: pd.DataFrame | None = None) -> bool:
    """Create ml_store.model_runs if missing: from ml.model_runs when a warehouse has one (the history so
    far), else empty with the columns of `like`. False when there is neither."""
    if table_exists(con, STORE_SCHEMA, "model_runs"):
        return True
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {STORE_SCHEMA}")
    if table_exists(con, "ml", "model_runs"):
        con.execute(f"CREATE TABLE {STORE_SCHEMA}.model_runs AS SELECT {RUN_COLUMNS} FROM ml.model_runs")
        return True
    if like is None:
        return False
    con.register("ml_runs", like)
    con.execute(f"CREATE TABLE {STORE_SCHEMA}.model_runs AS SELECT {RUN_COLUMNS} FROM ml_runs WHERE false")
    con.unregister("ml_runs")
    return True


def _record_runs(con: duckdb.DuckDBPyConnection, runs: pd.DataFrame) -> None:
    """Add this run's model_runs rows to the run log (replacing rows of the same run id)."""
    runs = runs[MODEL_RUN_COLUMNS].assign(as_of=lambda d: pd.to_datetime(d["as_of"]).dt.date)
    _ensure_run_log(con, runs)
    con.register("ml_runs", _rounded(runs))
    con.execute(f"DELETE FROM {STORE_SCHEMA}.model_runs WHERE run_id IN (SELECT run_id FROM ml_runs)")
    con.execute(f"INSERT INTO {STORE_SCHEMA}.model_runs SELECT {RUN_COLUMNS} FROM ml_runs")
    con.unregister("ml_runs")


def write_family(
    con: duckdb.DuckDBPyConnection,
    tables: dict[str, pd.DataFrame],
    as_of: date,
    also: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
) -> dict[str, int]:
    """Replace the family's ml tables (`tables`, each stamped with `as_of`) and record its run rows
    (`tables["model_runs"]`) in the run log, then run `also(con)` (the segments' model store), in one
    transaction. Returns rows per table written (model_runs: the rows recorded)."""
    counts = {}
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("CREATE SCHEMA IF NOT EXISTS ml")
        for name, frame in tables.items():
            if name != "model_runs":
                _write_table(con, name, frame, as_of)
            counts[name] = len(frame)
        _record_runs(con, tables["model_runs"])
        if also is not None:
            also(con)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return counts


def publish_model_runs(con: duckdb.DuckDBPyConnection) -> int | None:
    """Replace ml.model_runs with the run log (sorted by as_of, model, run_id); its row count, or None when
    no model run was ever recorded (no family has run on this warehouse)."""
    con.execute("BEGIN TRANSACTION")
    try:
        if not _ensure_run_log(con):
            con.execute("ROLLBACK")
            return None
        keys = ", ".join(ML_TABLES["model_runs"][0])
        con.execute(
            f"CREATE OR REPLACE TABLE ml.model_runs AS SELECT {RUN_COLUMNS} FROM {STORE_SCHEMA}.model_runs "
            f"ORDER BY {keys}"
        )
        rows = con.execute("SELECT count(*) FROM ml.model_runs").fetchall()[0][0]
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return int(rows)
