"""ml.customer_segments_history: who moved between segments, kept as versions (SCD type 2).

The durable history is ml_store.segment_history (private; survives full refreshes like the model store):
one row per master customer and version, valid from the segmentation run (as_of) where the customer's
(cluster_id, segment_name, rfm_segment) first appeared until the run where it changed or the customer
left (valid_to, exclusive; NULL while current). It grows with the moves, not with the nights. Each run of
the segments family, inside its transaction, first undoes what runs on or after its as_of wrote (so a
re-run of a night, or a rebuild for an earlier as_of, is idempotent), then closes the versions that no
longer hold and opens the new ones, then rewrites ml.customer_segments_history from the store with each
version's predecessor. Names come from this module only; values are bound parameters.
"""

import duckdb

from orchestration.ml_assets.tables import STORE_SCHEMA

STORE = f"{STORE_SCHEMA}.segment_history"
SAME = ("h.cluster_id IS NOT DISTINCT FROM s.cluster_id AND h.segment_name IS NOT DISTINCT FROM s.segment_name "
        "AND h.rfm_segment IS NOT DISTINCT FROM s.rfm_segment")


def record_segment_history(con: duckdb.DuckDBPyConnection, as_of) -> None:
    """Fold today's ml.customer_segments into the version store and rewrite ml.customer_segments_history."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {STORE_SCHEMA}")
    con.execute(f"CREATE TABLE IF NOT EXISTS {STORE} (customer_id VARCHAR, valid_from DATE, valid_to DATE, "
                "cluster_id BIGINT, segment_name VARCHAR, rfm_segment VARCHAR, run_id VARCHAR)")
    con.execute(f"DELETE FROM {STORE} WHERE valid_from >= $as_of", {"as_of": as_of})
    con.execute(f"UPDATE {STORE} SET valid_to = NULL WHERE valid_to >= $as_of", {"as_of": as_of})
    con.execute(
        f"UPDATE {STORE} AS h SET valid_to = $as_of WHERE h.valid_to IS NULL AND NOT EXISTS "
        f"(SELECT 1 FROM ml.customer_segments AS s WHERE s.customer_id = h.customer_id AND {SAME})",
        {"as_of": as_of},
    )
    con.execute(
        f"INSERT INTO {STORE} SELECT s.customer_id, $as_of, NULL, s.cluster_id, s.segment_name, s.rfm_segment, "
        f"s.run_id FROM ml.customer_segments AS s WHERE NOT EXISTS (SELECT 1 FROM {STORE} AS h "
        "WHERE h.customer_id = s.customer_id AND h.valid_to IS NULL)",
        {"as_of": as_of},
    )
    con.execute(
        f"""
        CREATE OR REPLACE TABLE ml.customer_segments_history AS
        SELECT
            customer_id, valid_from, valid_to, valid_to IS NULL AS is_current, cluster_id, segment_name,
            rfm_segment,
            lag(segment_name) OVER w AS previous_segment_name,
            lag(rfm_segment) OVER w AS previous_rfm_segment,
            coalesce(segment_name IS DISTINCT FROM lag(segment_name) OVER w
                     AND lag(valid_from) OVER w IS NOT NULL, false) AS moved,
            run_id,
            CAST($as_of AS DATE) AS as_of
        FROM {STORE}
        WINDOW w AS (PARTITION BY customer_id ORDER BY valid_from)
        ORDER BY customer_id, valid_from
        """,
        {"as_of": as_of},
    )
