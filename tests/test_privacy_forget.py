"""`crm-warehouse forget` erases a person everywhere (work file, raw zone, published file, Parquet exports,
snapshots, text files), logs it without personal data, is idempotent, answers an unknown id in one line,
and a later load of the same landing files does not bring the person back. The person is one the generator
exported as several duplicate records; the places are scanned with the helpers of test_privacy.py."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from orchestration.raw import landing as landing_mod
from tests.conftest import Built, copy_built, run_cli
from tests.test_privacy import (
    Pii,
    add_duckdb_values,
    add_parquet_values,
    landing_rows,
    leaks,
    name_variants,
    parquet_files,
    phone_digits,
    scan_connection,
)


@dataclass
class Person:
    requested: str  # a duplicate record's id, not the master id
    customer_ids: list[str]
    master: str
    pii: Pii  # ids (customer, order, ticket, communication), emails, phones, unique names, addresses


def _key(value: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", value)).lower()


def pick_person(built: Built) -> Person:
    """A person the generator exported as 2+ duplicate records, resolved to one master, with orders and
    service tickets."""
    dup = built.truth("duplicates")
    idmap = built.query("SELECT customer_id, master_customer_id FROM marts.customer_id_map")
    orders = set(built.query("SELECT DISTINCT master_customer_id FROM marts.fct_orders")["master_customer_id"])
    tickets = set(built.query("SELECT DISTINCT master_customer_id FROM marts.fct_tickets")["master_customer_id"])
    chosen = None
    for _, group in dup.groupby("person_id", sort=True):
        ids = sorted(group["customer_id"])
        masters = set(idmap.loc[idmap["customer_id"].isin(ids), "master_customer_id"])
        if len(ids) < 2 or len(masters) != 1:
            continue
        master = masters.pop()
        if sorted(idmap.loc[idmap["master_customer_id"] == master, "customer_id"]) == ids and master in orders \
                and master in tickets:
            chosen = ids, master
            break
    assert chosen, "no duplicated person with orders and tickets in the generated data"
    ids, master = chosen

    owners: dict[tuple[str, str], set[str]] = {}  # (kind, normalised value) -> customer ids holding it
    mine: dict[str, set[str]] = {"name": set(), "email": set(), "phone": set(), "address": set()}
    digits: set[str] = set()
    for _, _, r in landing_rows(built.landing, "customers"):
        cid = r["customer_id"].strip()
        values = {"name": r["name"], "email": r["email"], "phone": r["phone"], "address": r["address"]}
        for kind, value in values.items():
            if value.strip():
                owners.setdefault((kind, _key(value)), set()).add(cid)
                if cid in ids:
                    mine[kind].add(value.strip())
    strings: list[tuple[str, str]] = []
    for kind, values in mine.items():
        for value in values:
            if owners[(kind, _key(value))] - set(ids):
                continue  # shared with somebody else (a common name, a family phone): not evidence of this person
            if kind == "name":
                strings += [("name", v) for v in name_variants(value)]
            elif kind == "phone":
                strings.append(("phone", value))
                if phone_digits(value):
                    digits.add(phone_digits(value))
            else:
                strings.append((kind, value))
    for entity, key in (("orders", "order_id"), ("service_tickets", "ticket_id"), ("communications", "communication_id")):
        keys = {r[key].strip() for _, _, r in landing_rows(built.landing, entity) if r["customer_id"].strip() in ids}
        assert keys or entity == "communications", f"the person has no {entity}"
        strings += [(key, k) for k in keys if k]
    strings += [("customer_id", c) for c in ids]
    frame = pd.DataFrame(strings, columns=["kind", "value"]).drop_duplicates()
    frame["value"] = frame["value"].str.lower()
    pii = Pii(frame, pd.DataFrame([("phone", d) for d in sorted(digits)], columns=["kind", "value"]))
    assert {"email", "phone", "order_id", "ticket_id", "customer_id"} <= set(frame["kind"])
    return Person(requested=ids[-1], customer_ids=ids, master=master, pii=pii)


def person_places(warehouse: Path, pii: Pii) -> pd.DataFrame:
    """Where in the warehouse the person's ids, emails, phones, names or addresses still appear."""
    con = scan_connection(pii)
    add_duckdb_values(con, warehouse / "work" / "crm_work.duckdb", "work")
    add_duckdb_values(con, warehouse / "crm.duckdb", "published")
    for snap in sorted((warehouse / "snapshots").glob("*.duckdb")):
        add_duckdb_values(con, snap, "snapshots")
    for f in parquet_files(warehouse / "parquet"):
        add_parquet_values(con, f, "parquet:" + str(f.relative_to(warehouse / "parquet")))
    for f in parquet_files(warehouse / "raw"):
        add_parquet_values(con, f, "raw:" + str(f.relative_to(warehouse / "raw")))
    found = leaks(con, limit=1_000_000)
    found["place"] = found["src"].map(lambda srcs: sorted({s.split(":")[0] for s in srcs}))
    return found


def text_mentions(warehouse: Path, pii: Pii) -> list[str]:
    """Text files (data docs, reports, logs) that mention one of the person's ids or emails."""
    needles = [v for k, v in pii.strings.itertuples(index=False) if k in ("customer_id", "order_id", "email")]
    hits = []
    for path in warehouse.rglob("*"):
        if path.is_file() and path.suffix.lower() in {".html", ".json", ".log", ".txt", ".csv", ".md"}:
            text = path.read_text(encoding="utf-8", errors="replace").lower()
            hits += [f"{path}: {n}" for n in needles if n in text]
    return hits


def file_states(warehouse: Path) -> dict[str, tuple]:
    """(size, mtime, inode) of every data file a forget could rewrite."""
    out = {}
    for path in warehouse.rglob("*"):
        rel = path.relative_to(warehouse)
        if path.is_symlink() or not path.is_file() or rel.parts[0] in ("logs", "work") or \
                rel.parts[:2] in (("ops", "forget_log"), ("ops", "run_history")) or path.name.startswith(".crm-"):
            continue
        st = path.stat()
        out[str(rel)] = (st.st_size, st.st_mtime_ns, st.st_ino)
    return out


def audit_reconciles(warehouse: Path) -> None:
    with duckdb.connect(str(warehouse / "work" / "crm_work.duckdb"), read_only=True) as con:
        bad = con.execute("SELECT count(*) FROM ops.load_audit WHERE rows_in_file <> rows_loaded + rows_quarantined")
        assert bad.fetchall()[0][0] == 0
        audit = dict(con.execute("SELECT file, rows_loaded FROM ops.load_audit").fetchall())
    with duckdb.connect() as con:
        raw = dict(con.execute(
            "SELECT _source_file, count(*) FROM read_parquet($g, hive_partitioning = false, union_by_name = true) "
            "GROUP BY 1", {"g": str(warehouse / "raw" / "*" / "*" / "*.parquet")}).fetchall())
    assert {f: n for f, n in audit.items() if n} == {f: raw.get(f, 0) for f, n in audit.items() if n}


def publish_log_matches_tables(published: Path) -> None:
    with duckdb.connect(str(published), read_only=True) as con:
        logged = con.execute("SELECT table_name, row_count FROM ops.publish_log "
                             "WHERE publish_id = (SELECT max(publish_id) FROM ops.publish_log)").fetchall()
        for name, rows in logged:
            schema, table = name.split(".", 1)
            if name != "ops.publish_log":
                assert con.execute(f'SELECT count(*) FROM "{schema}"."{table}"').fetchall()[0][0] == rows, name


@dataclass
class Forgotten:
    copy: Built
    person: Person
    before: pd.DataFrame
    first: object  # CompletedProcess
    after: pd.DataFrame
    texts_after: list[str]
    second: object
    states_before_second: dict
    states_after_second: dict
    unknown: object
    states_after_unknown: dict
    log: pd.DataFrame


@pytest.fixture(scope="module")
def forgotten(built: Built, tmp_path_factory) -> Forgotten:
    copy = copy_built(built, tmp_path_factory.mktemp("forget"))
    person = pick_person(built)
    before = person_places(copy.warehouse, person.pii)
    first = run_cli("forget", person.requested, "--warehouse", str(copy.warehouse), "--landing", str(copy.landing))
    after = person_places(copy.warehouse, person.pii)
    texts_after = text_mentions(copy.warehouse, person.pii)
    states = file_states(copy.warehouse)
    second = run_cli("forget", person.requested, "--warehouse", str(copy.warehouse))
    states2 = file_states(copy.warehouse)
    unknown = run_cli("forget", "C99999999", "--warehouse", str(copy.warehouse), check=False)
    states3 = file_states(copy.warehouse)
    log = copy.work_query("SELECT * FROM ops.forget_log ORDER BY forgotten_at, forget_id")
    return Forgotten(copy, person, before, first, after, texts_after, second, states, states2, unknown, states3, log)


def test_forget_erases_the_person_and_their_duplicates_everywhere(forgotten: Forgotten):
    f = forgotten
    seen = {p for places in f.before["place"] for p in places}
    assert {"work", "published", "snapshots", "parquet", "raw"} <= seen, "the scan must see the person first"
    assert len(f.person.customer_ids) >= 2 and f.person.requested != f.person.master
    assert f.after.empty, f"left after forget:\n{f.after.head(20).to_string()}"
    assert f.texts_after == []
    assert "forgot customer" in f.first.stderr and "the landing folder still holds" in f.first.stderr
    audit_reconciles(f.copy.warehouse)
    publish_log_matches_tables(f.copy.published)
    for snap in (f.copy.warehouse / "snapshots").glob("*.duckdb"):
        publish_log_matches_tables(snap)
        assert oct(snap.stat().st_mode & 0o777) == "0o444"
    assert oct(f.copy.published.stat().st_mode & 0o777) == "0o444"
    leftovers = [p for p in f.copy.warehouse.rglob(".*") if "forget" in p.name]
    assert leftovers == []


def test_forget_is_logged_without_personal_data(forgotten: Forgotten):
    log = forgotten.log
    assert list(log["status"]) == ["forgotten", "already_forgotten"]
    first = log.iloc[0]
    assert first["source_records"] == len(forgotten.person.customer_ids) and first["orders"] > 0
    for col in ("rows_published", "rows_snapshots", "rows_parquet", "rows_raw", "rows_work", "raw_forgotten_rows",
                "landing_lines_remaining"):
        assert first[col] > 0, col
    assert re.fullmatch(r"[0-9a-f]{64}", first["customer_hash"])
    assert log.iloc[1][["rows_published", "rows_snapshots", "rows_parquet", "rows_raw", "rows_work"]].sum() == 0
    text = log.astype(str).to_string().lower()
    for value in forgotten.person.pii.strings["value"]:
        assert value not in text
    history = forgotten.copy.warehouse / "ops" / "run_history"
    assert any("forget" in p.name for p in history.glob("*.parquet"))


def test_forget_is_idempotent_and_an_unknown_id_is_one_clear_line(forgotten: Forgotten):
    f = forgotten
    assert "already forgotten" in f.second.stderr
    assert f.states_after_second == f.states_before_second  # no data file was rewritten
    assert f.unknown.returncode == 1
    lines = [ln for ln in f.unknown.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "C99999999" in lines[0], f.unknown.stderr
    assert "Traceback" not in f.unknown.stderr
    assert f.states_after_unknown == f.states_after_second


def test_a_later_load_of_the_same_landing_does_not_bring_the_person_back(forgotten: Forgotten):
    f = forgotten
    first_day = landing_mod.complete_extract_dates(f.copy.landing)[0].isoformat()
    in_landing = [n for file, n, r in landing_rows(f.copy.landing, "customers")
                  if file.startswith(first_day) and r["customer_id"].strip() in f.person.customer_ids]
    assert in_landing, "the reloaded day must hold the person, or the test proves nothing"
    run_cli("reload", "--date", first_day, "--landing", str(f.copy.landing), "--warehouse", str(f.copy.warehouse))
    left = person_places(f.copy.warehouse, f.person.pii)
    assert left.empty, f"back after reload:\n{left.head(20).to_string()}"
    audit_reconciles(f.copy.warehouse)
    publish_log_matches_tables(f.copy.published)
    q = f.copy.work_query("SELECT file, count(*) AS n FROM ops.quarantine WHERE reason = 'forgotten' GROUP BY 1")
    assert q.loc[q["file"].str.startswith(first_day), "n"].sum() >= len(in_landing)
    published_log = f.copy.query("SELECT status FROM ops.forget_log ORDER BY forgotten_at, forget_id")
    assert list(published_log["status"]) == ["forgotten", "already_forgotten"]  # published with the run
