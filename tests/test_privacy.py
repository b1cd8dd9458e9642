"""Privacy: no personal data from the extracts reaches anything BI reads; `restricted` is published only on
request. (`crm-warehouse forget` is tested in test_privacy_forget.py, with the scan helpers of this module.)

The scans run in DuckDB: every value of every column (cast to text) goes into one table, the personal
strings into another, and a join with `contains` finds any leak."""

from __future__ import annotations

import csv
import gzip
import io
import os
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from orchestration.errors import CrmWarehouseError
from orchestration.raw import landing as landing_mod
from tests.conftest import Built

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
PHONE = re.compile(r"[+＋]?[0-9０-９][0-9０-９ ()（）.\-－]{5,}[0-9０-９]")
CJK = re.compile(r"[\u3400-\u9fff]")
SEPARATORS_SQL = r"[\s()（）.+＋－-]"  # removed from published values before comparing phone digit strings
FULLWIDTH_DIGITS = "０１２３４５６７８９"


# --- reading the landing extracts ---------------------------------------------------------------------

def landing_rows(landing: Path, entity: str) -> Iterator[tuple[str, int, dict[str, str]]]:
    """(file, record number, row) of every well-formed record of `entity` in every complete extract
    (rows with the wrong number of fields are skipped: their fields cannot be told apart)."""
    for d in landing_mod.complete_extract_dates(landing):
        for f in landing_mod.read_extract(landing, d).files:
            if f.entity != entity:
                continue
            raw = gzip.open(f.path, "rb").read() if f.path.name.endswith(".gz") else f.path.read_bytes()
            text = raw.decode("utf-8-sig" if f.encoding.startswith("utf-8") else f.encoding)
            reader = csv.reader(io.StringIO(text, newline=""))
            header = [h.strip() for h in next(reader)]
            for i, row in enumerate(reader, start=2):
                if len(row) == len(header):
                    yield f.relative_name, i, dict(zip(header, row, strict=True))


def phone_digits(value: str) -> str | None:
    """The national digit string of a phone as written anywhere (full-width digits, +86, separators)."""
    digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", value))
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits if len(digits) >= 8 else None


def name_variants(name: str) -> set[str]:
    """A full name as written, with whitespace collapsed, and (Chinese) without any; single characters and
    lone surnames are never used (they are everywhere), only full names of 2+ characters."""
    name = name.strip()
    out = {name, re.sub(r"\s+", " ", unicodedata.normalize("NFKC", name))}
    if CJK.search(name):
        out.add(re.sub(r"\s+", "", unicodedata.normalize("NFKC", name)))
    return {v for v in out if len(v) >= 2}


@dataclass
class Pii:
    strings: pd.DataFrame  # kind, value (compared case-insensitively as substrings of published text)
    digits: pd.DataFrame  # kind, value (phone digit strings, compared with separators removed)


def collect_pii(landing: Path) -> Pii:
    rows: list[tuple[str, str]] = []
    digits: list[tuple[str, str]] = []

    def phone(kind: str, value: str) -> None:
        value = value.strip()
        d = phone_digits(value)
        if d:
            rows.append((kind, value))
            digits.append((kind, d))

    for _, _, r in landing_rows(landing, "customers"):
        rows.extend(("name", v) for v in name_variants(r.get("name", "")))
        if "@" in r.get("email", ""):
            rows.append(("email", r["email"].strip()))
        phone("phone", r.get("phone", ""))
        if len(r.get("address", "").strip()) >= 4:
            rows.append(("address", r["address"].strip()))
    for _, _, r in landing_rows(landing, "sales_reps"):
        rows.extend(("rep_name", v) for v in name_variants(r.get("name", "")))
    for entity, column in (("communications", "content"), ("communications", "subject"),
                           ("service_tickets", "feedback_text")):
        for _, _, r in landing_rows(landing, entity):
            text = r.get(column, "")
            rows.extend(("free_text_email", m) for m in EMAIL.findall(text))
            for m in PHONE.findall(EMAIL.sub(" ", text)):
                phone("free_text_phone", m)
    strings = pd.DataFrame(rows, columns=["kind", "value"]).drop_duplicates()
    strings["value"] = strings["value"].str.lower()
    return Pii(strings.drop_duplicates(), pd.DataFrame(digits, columns=["kind", "value"]).drop_duplicates())


# --- every value of a DuckDB file / Parquet file as text ------------------------------------------------

TEXT_TYPES = ("VARCHAR",)


def _add_columns(con: duckdb.DuckDBPyConnection, source: str, relation: str, columns: list[tuple[str, str]],
                 params: dict | None = None) -> None:
    for col, typ in columns:
        q = '"' + col.replace('"', '""') + '"'
        is_text = typ.upper().startswith(TEXT_TYPES) or "[]" in typ or typ.upper().startswith(("STRUCT", "MAP"))
        con.execute(
            f"INSERT INTO vals SELECT DISTINCT $src, CAST({q} AS VARCHAR), {str(is_text).lower()} "
            f"FROM {relation} WHERE {q} IS NOT NULL",
            {"src": source, **(params or {})},
        )


def add_duckdb_values(con: duckdb.DuckDBPyConnection, path: Path, source: str, *, tables_only: bool = True) -> int:
    """Every column of every table (cast to text) of the DuckDB file at `path` into `vals`."""
    con.execute("ATTACH $p AS scanned (READ_ONLY)", {"p": str(path)})
    try:
        rows = con.execute(
            """
            SELECT c.schema_name, c.table_name, list((c.column_name, c.data_type) ORDER BY c.column_index)
            FROM duckdb_columns() c
            WHERE c.database_name = 'scanned' AND (NOT $tables_only OR EXISTS (
                SELECT 1 FROM duckdb_tables() t WHERE t.database_name = 'scanned'
                AND t.schema_name = c.schema_name AND t.table_name = c.table_name))
            GROUP BY ALL
            """,
            {"tables_only": tables_only},
        ).fetchall()
        for schema, table, cols in rows:
            _add_columns(con, f"{source}:{schema}.{table}", f'scanned."{schema}"."{table}"',
                         [(c[0], c[1]) if isinstance(c, tuple) else (c["column_name"], c["data_type"]) for c in cols])
    finally:
        con.execute("DETACH scanned")
    return len(rows)


def add_parquet_values(con: duckdb.DuckDBPyConnection, path: Path, source: str) -> None:
    params = {"path": str(path)}
    cols = con.execute("DESCRIBE SELECT * FROM read_parquet($path, hive_partitioning = false)", params).fetchall()
    _add_columns(con, source, "read_parquet($path, hive_partitioning = false)", [(c[0], c[1]) for c in cols], params)


def parquet_files(root: Path) -> list[Path]:
    """Every Parquet file under `root`, not following symlinks (`parquet/current`)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not (Path(dirpath) / d).is_symlink()]
        out += [Path(dirpath) / f for f in filenames if f.endswith(".parquet")]
    return sorted(out)


def scan_connection(pii: Pii) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(config={"threads": 2})
    con.execute("CREATE TABLE vals (src VARCHAR, v VARCHAR, is_text BOOLEAN)")
    con.register("pii_strings_df", pii.strings)
    con.register("pii_digits_df", pii.digits)
    con.execute("CREATE TABLE pii_strings AS SELECT kind, value FROM pii_strings_df")
    con.execute("CREATE TABLE pii_digits AS SELECT kind, value FROM pii_digits_df")
    return con


def leaks(con: duckdb.DuckDBPyConnection, limit: int = 20) -> pd.DataFrame:
    """Personal strings found inside any value of `vals`: as text, or (phones) as a digit string. `src`
    lists where the value was seen."""
    con.execute("CREATE OR REPLACE TABLE uv AS SELECT v, bool_or(is_text) AS is_text, "
                "list(DISTINCT src ORDER BY src) AS src FROM vals GROUP BY v")
    con.execute(
        f"""
        CREATE OR REPLACE TABLE ud AS
        SELECT v, src, regexp_replace(translate(v, '{FULLWIDTH_DIGITS}', '0123456789'), '{SEPARATORS_SQL}', '', 'g') AS d
        FROM uv WHERE regexp_matches(translate(v, '{FULLWIDTH_DIGITS}', '0123456789'), '[0-9]')
        """
    )
    con.execute("DELETE FROM ud WHERE NOT regexp_matches(d, '[0-9]{8}')")
    return con.execute(
        f"""
        SELECT * FROM (
            SELECT p.kind, p.value, u.src, u.v AS published_value
            FROM pii_strings p JOIN uv u ON u.is_text AND contains(lower(u.v), p.value)
            UNION ALL
            SELECT p.kind, p.value, u.src, u.v
            FROM pii_digits p JOIN ud u ON contains(u.d, p.value)
        ) LIMIT {limit}
        """
    ).df()


# --- 1. nothing personal reaches what BI reads -----------------------------------------------------------

@pytest.fixture(scope="module")
def pii(built: Built) -> Pii:
    return collect_pii(built.landing)


def test_no_personal_data_in_the_published_file_or_its_parquet_exports(built: Built, pii: Pii):
    counts = pii.strings.groupby("kind").size()
    assert min(counts["name"], counts["email"], counts["phone"], counts["address"]) > 500
    assert counts["rep_name"] >= 5
    assert counts["free_text_email"] >= 5 and counts["free_text_phone"] >= 5  # planted in ~2 % of texts
    assert (pii.digits["value"].str.len() == 11).sum() > 500  # mobile numbers as 11-digit strings

    con = scan_connection(pii)
    tables = add_duckdb_values(con, built.published, "crm.duckdb")
    files = parquet_files(built.warehouse / "parquet")
    for f in files:
        add_parquet_values(con, f, str(f.relative_to(built.warehouse)))
    assert tables >= 20 and len(files) >= tables
    # the scan finds what it looks for: a real email, a real phone written with other separators, a name
    email = pii.strings.loc[pii.strings["kind"] == "email", "value"].iloc[0]
    mobile = pii.digits.loc[(pii.digits["kind"] == "phone") & (pii.digits["value"].str.len() == 11), "value"].iloc[0]
    name = next(v for v in pii.strings.loc[pii.strings["kind"] == "name", "value"] if CJK.search(v) and len(v) == 3)
    con.executemany(
        "INSERT INTO vals VALUES ('control', ?, true)",
        [(f"note: {email.upper()} called",), (f"tel ({mobile[:3]}) {mobile[3:7]}.{mobile[7:]}",), (f"客户{name}来电",)],
    )
    found = leaks(con, limit=100_000)
    control = found[found["src"].map(lambda s: list(s) == ["control"])]
    assert {"email", "phone", "name"} <= set(control["kind"]), control
    real = found[found["src"].map(lambda s: list(s) != ["control"])]
    assert real.empty, f"personal data in published values:\n{real.head(20).to_string()}"


def test_full_personal_data_only_in_the_restricted_schema_of_the_work_file(built: Built):
    n = built.work_query("SELECT count(*) AS n, count(email) AS emails FROM restricted.restricted_customers")
    assert n["n"][0] > 500 and n["emails"][0] > 500
    published = built.query("SELECT DISTINCT schema_name FROM duckdb_tables()")["schema_name"]
    assert "restricted" not in set(published) and "staging" not in set(published)


def test_restricted_schema_is_published_only_with_the_opt_in(tmp_path: Path, monkeypatch):
    from orchestration.serving.publish import publish

    work = tmp_path / "work.duckdb"
    with duckdb.connect(str(work)) as con:
        for schema in ("marts", "restricted", "ops"):
            con.execute(f"CREATE SCHEMA {schema}")
        con.execute("CREATE TABLE marts.dim_customers AS SELECT 'C1' AS master_customer_id, 'W*' AS name_masked")
        con.execute("CREATE TABLE restricted.restricted_customers AS SELECT 'C1' AS customer_id, 'Wei Wang' AS name")

    def schemas(serving: Path) -> set[str]:
        with duckdb.connect(str(serving), read_only=True) as con:
            return {r[0] for r in con.execute("SELECT DISTINCT schema_name FROM duckdb_tables()").fetchall()}

    monkeypatch.delenv("CRM_PUBLISH_RESTRICTED", raising=False)
    serving = tmp_path / "wh" / "crm.duckdb"
    publish(work, serving, date(2025, 6, 26))
    assert "restricted" not in schemas(serving) and not list(serving.parent.glob("parquet/*/restricted"))
    monkeypatch.setenv("CRM_PUBLISH_RESTRICTED", "1")
    result = publish(work, serving, date(2025, 6, 26))
    assert "restricted" in schemas(serving) and "restricted.restricted_customers" in result.tables
    assert (result.parquet_dir / "restricted" / "restricted_customers.parquet").is_file()
    monkeypatch.setenv("CRM_PUBLISH_RESTRICTED", "0")
    publish(work, serving, date(2025, 6, 26))
    assert "restricted" not in schemas(serving)  # switching the opt-in off drops it again
    monkeypatch.setenv("CRM_PUBLISH_RESTRICTED", "maybe")
    with pytest.raises(CrmWarehouseError, match="CRM_PUBLISH_RESTRICTED"):
        publish(work, serving, date(2025, 6, 26))
