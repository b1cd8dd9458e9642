"""Customer-domain marts against the generator's planted truth, read from the published crm.duckdb.

Uses the session warehouses (`mart_build`: scale 0.01 over 3 days and scale 0.1 over 2 days, one CLI run
per day; `built`: the scale-0.01 one only, for the personal-data checks). Checks identity resolution against
`_truth/duplicates.csv` (pairwise precision and recall), the deduplicated customer count against
`_truth/expected_totals.csv`, the absence of plaintext personal data in the published customer tables, the
keyed hashes, the stated grains, and the Python helpers of the PII-token model on hand-built values.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import itertools
import json
import os
import re
import sys

import duckdb
import pandas as pd
import pytest

from tests.conftest import REPO, Built

CUSTOMER_TABLES = (
    "marts.customer_id_map",
    "marts.dim_customers",
    "marts.dim_customers_history",
    "marts.customer_relationships",
    "marts.customer_network",
    "marts.fct_communications",
    "marts.customer_behavior",
    "marts.customer_communication_summary",
    "reports.rpt_customer",
)
GRAINS = {
    "marts.customer_id_map": ["customer_id"],
    "marts.dim_customers": ["master_customer_id"],
    "marts.dim_customers_history": ["customer_id", "valid_from"],
    "marts.customer_relationships": ["from_master_customer_id", "to_master_customer_id", "relationship_type"],
    "marts.customer_network": ["master_customer_id"],
    "marts.fct_communications": ["communication_id"],
    "marts.customer_behavior": ["master_customer_id"],
    "marts.customer_communication_summary": ["master_customer_id"],
    "reports.rpt_customer": ["month", "source"],
}
OPAQUE_VALUE = r"[0-9a-f]{64}|[A-Z][0-9]{8}"  # an HMAC-SHA256 hex digest or a source id such as C00000042
PII_TOKENS_MODEL = REPO / "dbt_project" / "models" / "intermediate" / "int_customer_pii_tokens.py"


def _pairs(frame: pd.DataFrame, group_column: str) -> set[tuple[str, str]]:
    """Every unordered pair of customer ids that share a group."""
    out: set[tuple[str, str]] = set()
    for _, group in frame.groupby(group_column):
        out.update(itertools.combinations(sorted(group["customer_id"]), 2))
    return out


def _raw_customers(built: Built) -> pd.DataFrame:
    """Every raw customer version in the raw zone (all days, all versions, deleted ones too)."""
    glob = str(built.warehouse / "raw" / "customers" / "*" / "*.parquet")
    with duckdb.connect() as con:
        return con.execute(
            "select customer_id, name, email, phone, address from read_parquet($g, union_by_name = true)",
            {"g": glob},
        ).df()


# ------------------------------------------------------------------------------------------------
# identity resolution
# ------------------------------------------------------------------------------------------------
def test_identity_resolution_precision_and_recall(mart_build: Built):
    truth = mart_build.truth("duplicates")
    id_map = mart_build.query("select customer_id, master_customer_id from marts.customer_id_map")
    # deleted customers are not in the map: grade the customers that are
    truth = truth[truth["customer_id"].isin(id_map["customer_id"])]
    assert len(truth) == len(id_map), "every mapped customer has a truth row"
    expected = _pairs(truth, "person_id")
    predicted = _pairs(id_map, "master_customer_id")
    assert expected, "the generator plants duplicates"
    true_positives = len(expected & predicted)
    precision = true_positives / len(predicted)
    recall = true_positives / len(expected)
    assert precision >= 0.99 and recall >= 0.99, (
        f"precision {precision:.4f}, recall {recall:.4f}; "
        f"missed {sorted(expected - predicted)[:5]}, wrong {sorted(predicted - expected)[:5]}"
    )


def test_master_id_is_smallest_source_id_of_its_group(mart_build: Built):
    id_map = mart_build.query("select customer_id, master_customer_id from marts.customer_id_map")
    smallest = id_map.groupby("master_customer_id")["customer_id"].min()
    assert (smallest.index == smallest.to_numpy()).all()


def test_deduplicated_customer_count_matches_truth(mart_build: Built):
    totals = mart_build.truth("expected_totals")
    expected = int(totals.loc[totals["metric"] == "customers_dedup", "value"].iloc[0])
    actual = int(mart_build.query("select count(*) as n from marts.dim_customers")["n"].iloc[0])
    assert actual == expected
    merged = mart_build.query("select sum(source_records_merged) as n from marts.dim_customers")["n"].iloc[0]
    mapped = mart_build.query("select count(*) as n from marts.customer_id_map")["n"].iloc[0]
    assert merged == mapped


# ------------------------------------------------------------------------------------------------
# published tables: grain, types, no personal data
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("table", CUSTOMER_TABLES)
def test_published_table_has_rows_and_unique_grain(mart_build: Built, table: str):
    keys = ", ".join(GRAINS[table])
    total = mart_build.query(f"select count(*) as n from {table}")["n"].iloc[0]
    assert total > 0, f"{table} is empty"
    duplicates = mart_build.query(f"select {keys}, count(*) as n from {table} group by {keys} having count(*) > 1")
    assert duplicates.empty, f"{table}: duplicate grain rows\n{duplicates.head()}"


def test_money_is_decimal_18_2(mart_build: Built):
    types = mart_build.query(
        "select data_type from information_schema.columns "
        "where table_schema = 'marts' and table_name = 'dim_customers' and column_name = 'lifetime_value'"
    )
    assert types["data_type"].tolist() == ["DECIMAL(18,2)"]


def test_lifetime_value_reconciles_to_completed_orders(mart_build: Built):
    """Sum of lifetime values = net amount of every completed order of a current customer, to the cent."""
    ltv = mart_build.query("select sum(lifetime_value) as v from marts.dim_customers")["v"].iloc[0]
    completed = mart_build.work_query(
        "select sum(i.line_net_amount) as v from staging.stg_crm__order_items i "
        "join staging.stg_crm__orders o using (order_id) "
        "join intermediate.int_customer_id_map m on o.customer_id = m.customer_id "
        "where o.status = 'completed'"
    )["v"].iloc[0]
    assert ltv == completed


def _personal_data(built: Built) -> tuple[set[str], set[str]]:
    """(substring needles, whole-value needles) from every raw customer version: emails (raw and
    normalised), phones (raw, digits, national digits; 7+ digits), names and addresses of 4+ characters
    as substrings, shorter names as whole values."""
    raw = _raw_customers(built)
    needles: set[str] = set()
    whole_values: set[str] = set()
    for value in raw["email"].dropna():
        needles.update({value, value.strip().lower()})
    for value in raw["phone"].dropna():
        digits = re.sub(r"\D", "", value)
        needles.add(value)
        if len(digits) >= 7:
            needles.update({digits, digits[-11:]})
    for column in ("name", "address"):
        for value in raw[column].dropna():
            value = value.strip()
            (needles if len(value) >= 4 else whole_values).add(value)
    needles.discard("")
    return needles, whole_values


def test_no_plaintext_personal_data_in_customer_tables(built: Built):
    """No raw name, email, phone or address appears in a published customer table (see _personal_data)."""
    needles, whole_values = _personal_data(built)
    assert needles and whole_values
    values = _published_text_values(built)  # (table.column, value)
    whole = whole_values & set(values["value"])
    assert not whole, f"personal data as whole values: {sorted(whole)[:5]}"
    # Hex digests and source ids can hold none of the needles (no '@', no name, fewer than 11 digits)
    # except by chance (a digest may contain any digit run): leave them out of the substring search.
    opaque = values["value"].str.fullmatch(OPAQUE_VALUE)
    haystack = "\n".join(values.loc[~opaque, "value"])
    leaked = sorted(n for n in needles if n in haystack)
    where = values[values["value"].map(lambda v: any(n in v for n in leaked[:5]))]
    assert not leaked, f"personal data in published values: {leaked[:5]} in {where.head().to_dict('records')}"


def test_personal_data_check_has_teeth(built: Built):
    """The same needles do find the phones and emails the generator planted in the raw free text, and the
    hash columns hold only hex digests (so leaving them out of the search above is safe)."""
    needles, _ = _personal_data(built)
    raw_text = built.work_query(
        "select distinct content from intermediate.int_customer_communications where content is not null"
    )["content"]
    haystack = "\n".join(raw_text)
    assert any(n in haystack for n in needles if "@" in n)
    assert any(n in haystack for n in needles if n.isdigit())
    hashes = built.query("select email_hash, phone_hash, name_hash from marts.dim_customers")
    for column in hashes.columns:
        assert hashes[column].dropna().str.fullmatch(r"[0-9a-f]{64}").all(), column


def _published_text_values(built: Built) -> pd.DataFrame:
    """Distinct values of every VARCHAR column of the published customer tables."""
    parts = []
    with duckdb.connect(str(built.published), read_only=True) as con:
        for table in CUSTOMER_TABLES:
            schema, name = table.split(".")
            columns = con.execute(
                "select column_name from information_schema.columns "
                "where table_schema = ? and table_name = ? and data_type = 'VARCHAR'",
                [schema, name],
            ).fetchall()
            parts += [
                f"select distinct '{table}.{column}' as column_name, \"{column}\" as value from {table}"
                for (column,) in columns
            ]
        values = con.execute(" union all ".join(parts)).df()
    return values.dropna()


# ------------------------------------------------------------------------------------------------
# addresses: published only masked (administrative prefix in clear, street masked)
# ------------------------------------------------------------------------------------------------
def _landing_addresses(built: Built) -> set[str]:
    """Every address of every delivered customers CSV (each day, in its manifest's encoding), trimmed, and
    the first line of a multi-line address (the street line on its own is a full street address too)."""
    addresses: set[str] = set()
    for manifest_path in sorted(built.landing.glob("*/_manifest.json")):
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        for entry in manifest["files"]:
            if entry["entity"] != "customers":
                continue
            path = manifest_path.parent / entry["file"]
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=entry["encoding"])
            for value in frame["address"]:
                value = value.strip()
                if value:
                    addresses.update({value, value.splitlines()[0].strip()})
    return addresses


def _published_values(built: Built) -> pd.DataFrame:
    """Distinct values of every VARCHAR column of every table of the published file (all schemas)."""
    with duckdb.connect(str(built.published), read_only=True) as con:
        columns = con.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where data_type = 'VARCHAR' and table_catalog = current_database()"
        ).fetchall()
        # identifiers come from the catalogue itself, quoted; no value is formatted into the SQL
        parts = [
            f"select distinct '{schema}.{table}.{column}' as column_name, \"{column}\" as value "
            f"from \"{schema}\".\"{table}\""
            for schema, table, column in columns
        ]
        return con.execute(" union all ".join(parts)).df().dropna()


def _mask_address(address: str | None) -> str | None:
    """The published rule, written independently: the leading province / city / district names in clear
    (each at most a few characters, no digits or street words), then the first character of the rest and
    '****'."""
    if address is None or not address.strip():
        return None
    address = address.strip()
    part = r"[^0-9 ,，路街道巷号弄\n]"
    prefix = re.match(
        rf"^(?:{part}{{1,8}}?(?:省|自治区|特别行政区))?(?:{part}{{1,8}}?(?:市|自治州))?(?:{part}{{1,6}}?(?:区|县))?",
        address,
    ).group(0)
    return prefix + address[len(prefix):].strip()[:1] + "****"


def test_no_full_address_in_any_published_table(built: Built):
    """No text column of the published file holds a full street address of the landing CSVs; the masked
    addresses are there (so the scan looks at the column that carries address data)."""
    addresses = _landing_addresses(built)
    staged = set(built.work_query("select address from staging.stg_crm__customers")["address"].dropna())
    assert len(addresses) > 100 and len(staged & addresses) > 0.9 * len(staged), "the needles are the addresses"
    values = _published_values(built)
    assert "marts.dim_customers.address_masked" in set(values["column_name"]), "no masked address published"
    haystack = "\n".join(values["value"])
    leaked = sorted(a for a in addresses if a in haystack)
    where = values[values["value"].map(lambda v: any(a in v for a in leaked[:5]))]
    assert not leaked, f"full addresses published: {leaked[:5]} in {where.head().to_dict('records')}"


def test_address_masked_is_consistent(built: Built):
    """address_masked of every customer is the golden record's address masked by the rule (the newest
    source record with an address, as for name/email/phone), ends in '****', shows the city the customer
    row names when the address starts with it, and is described."""
    dim = built.query(
        "select master_customer_id, address_masked, city from marts.dim_customers"
    ).set_index("master_customer_id")
    staged = built.work_query(
        "select m.master_customer_id, c.address from staging.stg_crm__customers c "
        "join intermediate.int_customer_id_map m using (customer_id) where c.address is not null "
        "qualify row_number() over (partition by m.master_customer_id "
        "order by c.updated_at desc nulls last, c.customer_id desc) = 1"
    ).set_index("master_customer_id")["address"]
    assert len(staged) > 100
    expected = staged.map(_mask_address).reindex(dim.index)
    same = (dim["address_masked"] == expected) | (dim["address_masked"].isna() & expected.isna())
    assert same.all(), f"address_masked differs from the rule\n{dim.assign(expected=expected)[~same].head()}"
    masked = dim["address_masked"].dropna()
    assert masked.str.endswith("****").all()
    assert (masked.str.len() < staged.reindex(masked.index).str.len() + 4).all(), "a part of each street is hidden"
    golden = staged.reindex(dim.index).fillna("")
    city_prefix = dim["city"].fillna("?") + "市"
    chinese = pd.Series([a.startswith(p) for a, p in zip(golden, city_prefix, strict=True)], index=dim.index)
    assert chinese.sum() > 50
    shown = [m.startswith(p) for m, p in zip(dim.loc[chinese, "address_masked"], city_prefix[chinese], strict=True)]
    assert all(shown), "an address starting with the customer's city shows that city in clear"
    described = built.query(
        "select comment from duckdb_columns() where schema_name = 'marts' and table_name = 'dim_customers' "
        "and column_name = 'address_masked'"
    )["comment"]
    assert described.fillna("").str.len().gt(20).all() and len(described) == 1


def test_hashes_are_keyed_hmac_of_normalised_values(built: Built):
    """email_hash = HMAC-SHA256(CRM_PII_KEY, normalised email) for a sample of customers, and not a plain
    (unkeyed) SHA-256."""
    key = os.environ["CRM_PII_KEY"].encode()
    dim = built.query(
        "select master_customer_id, email_hash from marts.dim_customers "
        "where email_hash is not null and source_records_merged = 1 order by 1 limit 20"
    )
    assert not dim.empty
    staged = built.work_query(
        "select customer_id, email from staging.stg_crm__customers where customer_id in "
        "(select unnest($ids::varchar[]))",
        {"ids": dim["master_customer_id"].tolist()},
    ).set_index("customer_id")["email"]
    for master_id, email_hash in zip(dim["master_customer_id"], dim["email_hash"], strict=True):
        email = staged[master_id]
        assert email_hash == hmac.new(key, email.encode(), hashlib.sha256).hexdigest()
        assert email_hash != hashlib.sha256(email.encode()).hexdigest()


def test_pii_key_not_in_build_artifacts(built: Built):
    key = os.environ["CRM_PII_KEY"].encode()
    targets = [REPO / "dbt_project" / "target", built.warehouse / "logs", built.warehouse / "work" / "dbt_target"]
    for folder in targets:
        for path in folder.rglob("*"):
            if path.is_file() and path.suffix in {".json", ".sql", ".py", ".log", ".txt"}:
                assert key not in path.read_bytes(), f"the PII key leaked into {path}"


def test_report_churn_matches_dimension(mart_build: Built):
    """The as_of month of rpt_customer counts exactly the churned customers of dim_customers."""
    dim = mart_build.query(
        "select coalesce(source, 'unknown') as source, count(*) as n from marts.dim_customers "
        "where is_churned and first_created_at is not null group by 1"
    ).set_index("source")["n"]
    rpt = mart_build.query(
        "select source, customers_churned_total as n from reports.rpt_customer "
        "where month = (select max(month) from reports.rpt_customer) and customers_churned_total > 0"
    ).set_index("source")["n"]
    assert dim.sort_index().to_dict() == rpt.sort_index().to_dict()
    assert dim.sum() > 0


# ------------------------------------------------------------------------------------------------
# the PII-token Python model's helpers, on hand-built values (no build needed)
# ------------------------------------------------------------------------------------------------
def _pii_tokens_module():
    spec = importlib.util.spec_from_file_location("crm_int_customer_pii_tokens", PII_TOKENS_MODEL)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_pii_tokens_masks_and_hashes():
    tokens = _pii_tokens_module()
    assert tokens.mask_name("王伟") == "王*" and tokens.mask_name(" Li Lei") == "L*"
    assert tokens.mask_name("  ") is None and tokens.mask_name(None) is None
    assert tokens.mask_email("wei.wang@example.com") == "w***@example.com"
    assert tokens.mask_email(None) is None
    assert tokens.mask_phone("13800138000") == "****8000" and tokens.mask_phone(None) is None
    expected = hmac.new(b"k", "王伟".encode(), hashlib.sha256).hexdigest()
    assert tokens.hmac_hex(b"k", "王伟") == expected
    assert tokens.hmac_hex(b"other", "王伟") != expected


def test_pii_key_missing_is_a_clear_error(monkeypatch):
    tokens = _pii_tokens_module()
    monkeypatch.delenv("CRM_PII_KEY", raising=False)
    with pytest.raises(RuntimeError, match="CRM_PII_KEY is not set"):
        tokens.pii_key()


def test_pii_tokens_model_source_holds_no_key():
    source = PII_TOKENS_MODEL.read_text(encoding="utf-8")
    assert "os.environ.get(PII_KEY_ENV)" in source
    assert os.environ["CRM_PII_KEY"] not in source


# ------------------------------------------------------------------------------------------------
# communication summary per customer
# ------------------------------------------------------------------------------------------------
def test_communication_summary_reconciles_with_the_communications(mart_build: Built):
    """Recomputed in pandas from fct_communications (current customers, on or before as_of): counts by
    direction, channel and the last 90 days, answered share, median response, last contact; every current
    customer has a row (zeros without a communication)."""
    as_of = mart_build.work_query("select as_of_date from intermediate.int_customer_as_of")["as_of_date"].iloc[0]
    as_of = pd.Timestamp(as_of)
    comms = mart_build.query("select * from marts.fct_communications where master_customer_id is not null")
    comms = comms[pd.to_datetime(comms.occurred_date) <= as_of]
    summary = mart_build.query("select * from marts.customer_communication_summary").set_index("master_customer_id")
    customers = mart_build.query("select master_customer_id from marts.dim_customers")["master_customer_id"]
    assert set(summary.index) == set(customers)
    assert summary.communications.sum() == len(comms) > 100
    grouped = comms.groupby("master_customer_id")
    expected = pd.DataFrame({
        "communications": grouped.size(),
        "inbound_communications": grouped.direction.apply(lambda d: (d == "inbound").sum()),
        "communications_90d": grouped.occurred_date.apply(
            lambda d: ((pd.to_datetime(d) > as_of - pd.Timedelta(days=90)) & (pd.to_datetime(d) <= as_of)).sum()),
        "inbound_answered": grouped.apply(
            lambda g: ((g.direction == "inbound") & g.responded_at.notna()).sum(), include_groups=False),
        "median_response_minutes": grouped.response_minutes.median(),
        "last_contact_at": grouped.occurred_at.max(),
    })
    got = summary.loc[expected.index]
    for column in ("communications", "inbound_communications", "communications_90d", "inbound_answered"):
        assert (got[column].astype(int) == expected[column].astype(int)).all(), column
    assert (got.inbound_communications + got.outbound_communications == got.communications).all()
    channels = [c for c in summary.columns if c.endswith("_communications")
                and c not in ("inbound_communications", "outbound_communications")]
    assert len(channels) == 6 and (summary[channels].sum(axis=1) == summary.communications).all()
    for channel in ("email", "phone"):
        counts = comms[comms.channel == channel].groupby("master_customer_id").size()
        assert (summary.loc[counts.index, f"{channel}_communications"] == counts).all(), channel
    medians = expected.median_response_minutes.dropna()
    assert len(medians) > 20 and (got.loc[medians.index, "median_response_minutes"] - medians).abs().max() < 1e-9
    assert (pd.to_datetime(got.last_contact_at) == pd.to_datetime(expected.last_contact_at)).all()
    rate = got.inbound_answered / got.inbound_communications
    has_inbound = got.inbound_communications > 0
    assert ((got.inbound_response_rate[has_inbound].astype(float) - rate[has_inbound]).abs() <= 0.00005).all()
    silent = summary.drop(expected.index)
    assert len(silent) > 0 and (silent.communications == 0).all() and silent.last_contact_at.isna().all()
    days = (as_of - pd.to_datetime(got.last_contact_at).dt.normalize()).dt.days
    assert (got.days_since_last_contact == days).all()
