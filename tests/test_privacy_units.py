"""Unit tests of the modules behind `crm-warehouse forget` (orchestration/privacy/), on small synthetic fixtures: a two-day landing loaded by the real raw loader, a
serving layout written by the real `publish()`, hand-made DuckDB work files. No CLI runs.

The planted truth is the landing below: customer C00000001 and its duplicate export C00000002 (the same
person, one master in the identity map), their orders O00000001 and O00000004 (the latter delivered a day
after its order line: an orphan, then released), a rejected order O00000003 of C00000002 (bad date) and a
record with the wrong field count holding the person's email; C00000003 / O00000002 belong to somebody
else and must survive everything.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pytest

from orchestration import contract
from orchestration.privacy import forget_log, suppress
from orchestration.privacy.matching import Sweeper
from orchestration.privacy.person import resolve
from orchestration.privacy.published import scrub_parquet_exports, scrub_published
from orchestration.privacy.raw_zone import scrub_raw_zone
from orchestration.privacy.targets import duckdb_targets, plan_duckdb
from orchestration.privacy.text_files import REDACTED, redact_text_files, remove_scratch, scan_landing
from orchestration.privacy.work_file import scrub_work
from orchestration.raw import accounting, nights
from orchestration.raw.loader import load_new_extracts
from orchestration.raw.ops_tables import rebuild_ops_tables
from orchestration.raw.zone import RawZone
from orchestration.serving import rewrite
from orchestration.serving.publish import ServingLayout, publish

PERSON = ["C00000001", "C00000002"]
PERSON_ORDERS = ["O00000001", "O00000004"]
EMAIL = "wei.wang@example.com"
OTHER = "C00000003"
FORGOTTEN_VALUES = [*PERSON, *PERSON_ORDERS, "O00000003", EMAIL]

TS = "2024-12-01 10:00:00"
CUSTOMERS = [  # line 2.. ; line 2 has an invalid phone (a data issue of the forgotten person)
    f"C00000001,Wei Wang,male,1990-01-01,,123,{EMAIL},Road 1,Shanghai,Shanghai,CN,individual,web,active,{TS},{TS},false",
    f"C00000002,Wei  Wang,male,1990-01-01,,13800000000,{EMAIL},Road 1,Shanghai,Shanghai,CN,individual,web,active,{TS},{TS},false",
    f"C00000003,Li Na,female,1985-05-05,,13900000000,li.na@example.com,Road 2,Beijing,Beijing,CN,individual,ads,active,{TS},{TS},false",
    f"C00000009,{EMAIL},too,few,fields",  # wrong field count: only its raw text names the person
]
ORDERS_DAY1 = [
    f"O00000001,C00000001,,{TS},completed,web,CNY,{TS},false",
    f"O00000002,C00000003,,{TS},completed,web,CNY,{TS},false",
    f"O00000003,C00000002,,not-a-date,completed,web,CNY,{TS},false",  # bad date: quarantined
]
ITEMS_DAY1 = [
    f"O00000001,1,P00000001,1,10.00,0.0000,{TS},false",
    f"O00000002,1,P00000001,2,20.00,0.0000,{TS},false",
    f"O00000004,1,P00000001,3,30.00,0.0000,{TS},false",  # orphan until its order arrives on day 2
]
ORDERS_DAY2 = [f"O00000004,C00000001,,{TS},completed,web,CNY,{TS},false"]


def _write_day(landing: Path, day: str, files: dict[str, list[str]]) -> None:
    folder = landing / day
    folder.mkdir(parents=True)
    manifest = []
    for entity, lines in files.items():
        ent = contract.entity(entity)
        (folder / ent.file_name).write_text(",".join(ent.column_names) + "\n" + "\n".join(lines) + "\n",
                                            encoding="utf-8")
        manifest.append({"entity": entity, "file": ent.file_name, "rows": len(lines)})
    (folder / contract.MANIFEST_NAME).write_text(json.dumps({"extract_date": day, "files": manifest}))


def make_landing(root: Path) -> Path:
    landing = root / "landing"
    landing.mkdir(parents=True)
    (landing / "crm.yml").write_text("site: tiny\nentities: [customers, orders, order_items]\n")
    _write_day(landing, "2025-01-01", {"customers": CUSTOMERS, "orders": ORDERS_DAY1, "order_items": ITEMS_DAY1})
    _write_day(landing, "2025-01-02", {"orders": ORDERS_DAY2})
    return landing


def load(landing: Path, raw_root: Path, scratch: Path) -> None:
    load_new_extracts(landing, raw_root, scratch)
    nights.commit(raw_root)


@pytest.fixture
def tiny(tmp_path, monkeypatch) -> tuple[Path, Path, Path]:
    """(landing, raw root, scratch) with both days loaded."""
    monkeypatch.delenv("CRM_SITE_CONFIG", raising=False)
    landing = make_landing(tmp_path)
    raw, scratch = tmp_path / "raw", tmp_path / "scratch"
    load(landing, raw, scratch)
    return landing, raw, scratch


def put_on_list(raw_root: Path, customer_ids=PERSON, order_ids=PERSON_ORDERS, emails=(EMAIL,)) -> Sweeper:
    hasher = suppress.Hasher()
    suppress.add_to_list(raw_root, hasher, [("customer_id", c) for c in customer_ids]
                         + [("order_id", o) for o in order_ids] + [("email", e) for e in emails])
    return Sweeper(hasher, suppress.read_list(raw_root), customer_ids, order_ids, emails)


def parquet_text(files: list[Path]) -> str:
    """Every value of every Parquet file, as one text."""
    with duckdb.connect() as con:
        return "\n".join(str(row) for f in files for row in con.execute(
            "SELECT * FROM read_parquet($p, hive_partitioning = false)", {"p": str(f)}).fetchall())


def states(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_ino, p.stat().st_mtime_ns) for p in root.rglob("*")
            if p.is_file() and not p.is_symlink()}


# --- who: person.resolve -------------------------------------------------------------------------------

def _work_with_identity_map(path: Path) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA marts")
        con.execute("CREATE TABLE marts.customer_id_map AS SELECT * FROM (VALUES ('C00000001', 'C00000001'), "
                    "('C00000002', 'C00000001'), ('C00000003', 'C00000003')) t(customer_id, master_customer_id)")
        con.execute("CREATE TABLE marts.fct_orders AS SELECT * FROM (VALUES ('O00000001', 'C00000001'), "
                    "('O00000002', 'C00000003')) t(order_id, customer_id)")


def test_resolve_finds_duplicates_through_the_identity_map_and_their_orders_and_emails(tiny, tmp_path):
    _, raw, _ = tiny
    work = tmp_path / "work.duckdb"
    _work_with_identity_map(work)
    person = resolve(work, raw, " C00000002 ")  # a duplicate's id, not the master's
    assert person.customer_ids == PERSON
    assert person.order_ids == PERSON_ORDERS  # O00000004 arrived a day later (raw zone); O00000003 was refused
    assert person.emails == [EMAIL]
    other = resolve(work, raw, OTHER)
    assert other.customer_ids == [OTHER] and other.order_ids == ["O00000002"]
    assert not resolve(work, raw, "C99999999").found


def test_resolve_without_an_identity_map_uses_the_raw_zone(tiny, tmp_path):
    _, raw, _ = tiny
    person = resolve(tmp_path / "no_work.duckdb", raw, "C00000002")
    assert person.customer_ids == ["C00000002"] and person.order_ids == []  # O00000003 was quarantined
    assert person.emails == [EMAIL]


# --- which values: matching.Sweeper ----------------------------------------------------------------------

def test_sweeper_learns_only_values_on_the_list_and_matches_whole_tokens(tmp_path):
    raw = tmp_path / "raw"
    hasher = suppress.Hasher()
    suppress.add_to_list(raw, hasher, [("customer_id", "C00000001"), ("email", EMAIL)])
    sweeper = Sweeper(hasher, suppress.read_list(raw))  # knows nothing in plaintext yet
    with duckdb.connect() as con:
        sweeper.learn(con, "customer_id", "SELECT * FROM (VALUES (' C00000001 '), ('C00000003'), (NULL)) t(v)")
        sweeper.learn_tokens(con, "SELECT unnest(['C00000001', 'x', 'O1'])",
                             "SELECT unnest([$e, 'li.na@example.com'])", {"e": EMAIL.upper()})
        sweeper.load_into(con)
        assert con.execute("SELECT value FROM forget_customer_ids").fetchall() == [("C00000001",)]
        assert con.execute("SELECT value FROM forget_emails").fetchall() == [(EMAIL,)]
    pattern = sweeper.text_pattern()
    assert pattern.search(f"customer C00000001 wrote from {EMAIL.upper()}")
    assert not pattern.search("C000000011 and XC00000001 are other ids")


# --- where: targets ------------------------------------------------------------------------------------

def test_targets_find_identifier_columns_and_quote_catalog_names(tmp_path):
    db = tmp_path / "w.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE SCHEMA ops")
        con.execute('CREATE TABLE main."odd ""name""" AS SELECT \'C00000001\' AS from_customer_id, 1 AS n')
        con.execute("CREATE TABLE main.typed AS SELECT 42 AS customer_id")  # not VARCHAR: no identifier
        con.execute("CREATE TABLE ops.data_issues AS SELECT * FROM (VALUES ('customers', 'C00000001'), "
                    "('orders', 'O00000001'), ('products', 'C00000001')) t(entity, key)")
        con.execute("CREATE VIEW main.v AS SELECT 'C00000001' AS customer_id")  # views are not scrubbed
    sweeper = Sweeper(suppress.Hasher(b"k"), suppress.ForgottenList(tmp_path / "none"), ["C00000001"], ["O00000001"])
    with duckdb.connect() as con:
        con.execute("ATTACH $p AS src (READ_ONLY)", {"p": str(db)})
        names = {t.name: t for t in duckdb_targets(con, "src")}
    assert set(names) == {'main.odd "name"', "ops.data_issues"}
    assert names["ops.data_issues"].entity_key
    targets, plan = plan_duckdb(db, sweeper)
    assert plan.removed == {'main.odd "name"': 1, "ops.data_issues": 2}  # the product key is no customer
    targets, plan = plan_duckdb(db, sweeper, skip={("ops", "data_issues")})
    assert plan.removed == {'main.odd "name"': 1}


# --- 1./2. published copies --------------------------------------------------------------------------

def _published(tmp_path: Path) -> ServingLayout:
    work = tmp_path / "work.duckdb"
    with duckdb.connect(str(work)) as con:
        con.execute("CREATE SCHEMA marts")
        con.execute("CREATE SCHEMA ops")
        con.execute("CREATE TABLE marts.fct_orders AS SELECT * FROM (VALUES ('O00000001', 'C00000001', 10.00::DECIMAL(18,2)), "
                    "('O00000002', 'C00000003', 20.00::DECIMAL(18,2))) t(order_id, master_customer_id, amount)")
        con.execute("CREATE TABLE ops.data_issues AS SELECT * FROM (VALUES ('orders', 'O00000001', 'x'), "
                    "('orders', 'O00000002', 'y')) t(entity, key, reason)")
    serving = tmp_path / "wh" / "crm.duckdb"
    publish(work, serving, date(2025, 1, 1))
    publish(work, serving, date(2025, 1, 2))  # two snapshots: the newest is a hard link of the serving file
    return ServingLayout(serving)


def _counts_match_log(path: Path) -> bool:
    with duckdb.connect(str(path), read_only=True) as con:
        logged = con.execute("SELECT table_name, row_count FROM ops.publish_log "
                             "WHERE publish_id = (SELECT max(publish_id) FROM ops.publish_log)").fetchall()
        return all(con.execute(f'SELECT count(*) FROM "{n.split(".")[0]}"."{n.split(".")[1]}"').fetchall()[0][0] == r
                   for n, r in logged if n != "ops.publish_log")


def test_scrub_published_rewrites_the_serving_file_and_snapshots_read_only_and_relinked(tmp_path):
    layout = _published(tmp_path)
    sweeper = Sweeper(suppress.Hasher(b"k"), suppress.ForgottenList(tmp_path / "none"), ["C00000001"], ["O00000001"])
    serving_ino = layout.serving_db.stat().st_ino
    snaps = sorted(layout.snapshots_dir.glob("*.duckdb"))
    assert snaps[-1].stat().st_ino == serving_ino and snaps[0].stat().st_ino != serving_ino

    serving, snapshots = scrub_published(layout, sweeper, say=lambda m: None)
    assert (serving.rows, serving.files) == (2, 1)  # one order row, one data issue keyed by the order
    assert (snapshots.rows, snapshots.files) == (4, 2)
    new_ino = layout.serving_db.stat().st_ino
    assert new_ino != serving_ino and snaps[-1].stat().st_ino == new_ino  # still one file, a new one
    for path in [layout.serving_db, *snaps]:
        assert path.stat().st_mode & 0o777 == 0o444
        assert _counts_match_log(path)
        with duckdb.connect(str(path), read_only=True) as con:
            assert con.execute("SELECT list(order_id) FROM marts.fct_orders").fetchall()[0][0] == ["O00000002"]
            assert con.execute("SELECT list(key) FROM ops.data_issues").fetchall()[0][0] == ["O00000002"]
    assert [p.name for p in layout.root.iterdir() if p.name.startswith(".")] == []

    before = states(layout.root)
    again = scrub_published(layout, sweeper, say=lambda m: None)
    assert again[0].rows == again[1].rows == 0 and states(layout.root) == before  # nothing rewritten


def test_scrub_parquet_exports_rewrites_each_file_and_its_publish_log(tmp_path):
    layout = _published(tmp_path)
    sweeper = Sweeper(suppress.Hasher(b"k"), suppress.ForgottenList(tmp_path / "none"), ["C00000001"], ["O00000001"])
    counts = scrub_parquet_exports(layout, sweeper, say=lambda m: None)
    assert (counts.rows, counts.files) == (4, 4) and len(counts.detail) == 2
    assert layout.current_link.is_symlink()
    for folder, files in rewrite.parquet_exports(layout):
        assert "O00000001" not in parquet_text([p for _, p in files])
        with duckdb.connect() as con:
            logged = dict(con.execute("SELECT table_name, row_count FROM read_parquet($p) WHERE publish_id = "
                                      "(SELECT max(publish_id) FROM read_parquet($p))",
                                      {"p": str(rewrite.export_file(folder, "ops.publish_log"))}).fetchall())
        assert logged["marts.fct_orders"] == 1 and logged["ops.data_issues"] == 1, folder
    before = states(layout.parquet_dir)
    assert scrub_parquet_exports(layout, sweeper, say=lambda m: None).rows == 0
    assert states(layout.parquet_dir) == before


def test_refresh_publish_log_only_names_tables_of_the_file(tmp_path):
    with duckdb.connect() as con:
        with pytest.raises(ValueError, match="not a table"):
            rewrite.table_relation(con, "memory", "marts.nope; DROP TABLE x")


# --- 3. the raw zone -------------------------------------------------------------------------------------

def test_scrub_raw_zone_leaves_what_a_fresh_load_with_the_forgotten_list_would_load(tiny, tmp_path):
    landing, raw, scratch = tiny
    sweeper = put_on_list(raw)
    zone = RawZone(raw)
    assert "C00000001" in parquet_text(zone.row_files("customers"))

    counts = scrub_raw_zone(zone, sweeper, say=lambda m: None)
    # customers C1, C2; orders O1 (day 1), O4 (day 2); items of O1 and the released item of O4 (+ its orphan row)
    assert counts.detail == {"customers": 2, "orders": 2, "order_items": 3}
    assert counts.quarantine_removed == 3  # the bad-date order of C2, the short record naming the email, O4's orphan
    assert counts.data_issues_removed == 1 and counts.releases_removed == 1
    text = parquet_text([f for e in contract.ENTITIES for f in zone.row_files(e.name)] + zone.meta_files("quarantine")
                        + zone.meta_files("data_issues") + zone.meta_files("releases"))
    for value in FORGOTTEN_VALUES:
        assert value.lower() not in text.lower(), value
    assert OTHER in text and "O00000002" in text

    # the loader's own rule gives the same zone: load the landing again into a new raw root with the list
    fresh = tmp_path / "fresh_raw"
    (fresh / suppress.LIST_RELATIVE).parent.mkdir(parents=True)
    (fresh / suppress.LIST_RELATIVE).write_bytes((raw / suppress.LIST_RELATIVE).read_bytes())
    load(landing, fresh, scratch)

    def zone_rows(root: Path) -> dict[str, list]:
        with duckdb.connect() as con:
            rebuild_ops_tables(con, root)
            out = {"quarantine": con.execute("SELECT entity, file, line, reason, status FROM ops.quarantine "
                                             "ORDER BY ALL").fetchall(),
                   "data_issues": con.execute("SELECT entity, key, line FROM ops.data_issues ORDER BY ALL").fetchall(),
                   "audit": con.execute("SELECT file, rows_in_file, rows_loaded, rows_quarantined, rows_released "
                                        "FROM ops.load_audit ORDER BY ALL").fetchall()}
            for ent in ("customers", "orders", "order_items"):
                out[ent] = con.execute("SELECT * EXCLUDE (_loaded_at) FROM read_parquet($f, hive_partitioning = "
                                       "false) ORDER BY ALL", {"f": [str(p) for p in RawZone(root).row_files(ent)]}
                                       ).fetchall()
            return out

    scrubbed, reloaded = zone_rows(raw), zone_rows(fresh)
    assert scrubbed == reloaded
    assert all(n == loaded + quarantined for _, n, loaded, quarantined, _ in scrubbed["audit"])
    assert ("customers", "2025-01-01/customers.csv", 2, "forgotten", "quarantined") in scrubbed["quarantine"]

    before = states(raw)
    again = scrub_raw_zone(zone, sweeper, say=lambda m: None)
    assert not again.changed and again.files == 0 and states(raw) == before


def test_reconcile_file_accounts_for_a_removed_row_once(tiny):
    _, raw, _ = tiny
    zone = RawZone(raw)
    d = date(2025, 1, 1)
    path = zone.accepted("customers", d)
    with duckdb.connect() as con:
        zone.write(con, "SELECT * FROM read_parquet($p) WHERE customer_id <> 'C00000003'", {"p": str(path)}, path)
        r = accounting.reconcile_file(con, zone, "customers", d, reason="forgotten")
        assert (r.quarantined_added, r.quarantine_removed, r.files) == (1, 0, 2)  # quarantine + audit
        assert 4 in r.reason_lines
        audit = con.execute("SELECT rows_in_file, rows_accepted, rows_quarantined_at_load FROM read_parquet($p)",
                            {"p": str(zone.meta("audit", "customers", d))}).fetchall()[0]
        assert audit == (4, 2, 2)
        again = accounting.reconcile_file(con, zone, "customers", d, reason="forgotten")
        assert (again.quarantined_added, again.files) == (0, 0)
        assert accounting.reconcile_file(con, zone, "customers", date(2030, 1, 1), reason="forgotten") is None


# --- 4. the work file ------------------------------------------------------------------------------------

def test_scrub_work_deletes_rows_rebuilds_ops_tables_and_the_forget_log(tiny, tmp_path):
    _, raw, _ = tiny
    work = tmp_path / "work.duckdb"
    _work_with_identity_map(work)
    with duckdb.connect(str(work)) as con:
        con.execute("CREATE SCHEMA ops")
        con.execute("CREATE TABLE ops.quarantine AS SELECT 'stale' AS entity")  # rebuilt, not scrubbed
    work.chmod(0o600)
    sweeper = Sweeper(suppress.Hasher(b"k"), suppress.ForgottenList(tmp_path / "none"), PERSON, PERSON_ORDERS)
    log_folder = tmp_path / "forget_log"
    seen = []

    def before_write(rows, detail):
        seen.append((rows, detail))
        forget_log.write_record(log_folder, {"forget_id": "forget-1", "status": "forgotten", "rows_work": rows})

    outcome = scrub_work(work, raw, sweeper, False, log_folder, before_write, say=lambda m: None)
    assert seen == [(3, {"marts.customer_id_map": 2, "marts.fct_orders": 1})] and outcome.rewritten
    with duckdb.connect(str(work), read_only=True) as con:
        assert con.execute("SELECT list(customer_id) FROM marts.customer_id_map").fetchall()[0][0] == [OTHER]
        assert con.execute("SELECT count(*) FROM ops.quarantine WHERE entity = 'stale'").fetchall()[0][0] == 0
        assert con.execute("SELECT count(*) FROM ops.load_audit").fetchall()[0][0] == 4
        assert con.execute("SELECT forget_id, rows_work FROM ops.forget_log").fetchall() == [("forget-1", 3)]
    assert work.stat().st_mode & 0o777 == 0o600 and sorted(p.name for p in tmp_path.glob(".*")) == []

    ino = work.stat().st_ino
    outcome = scrub_work(work, raw, sweeper, False, log_folder, lambda rows, detail: None, say=lambda m: None)
    assert outcome.rows == 0 and not outcome.rewritten and work.stat().st_ino == ino  # only the log rebuilt


def test_forget_log_table_has_the_record_types_with_and_without_records(tmp_path):
    with duckdb.connect() as con:
        forget_log.build_table(con, tmp_path / "none")
        empty = con.execute("DESCRIBE ops.forget_log").fetchall()
        forget_log.write_record(tmp_path / "log", {"forget_id": "forget-2", "source_records": 2, "seconds": 1.5})
        forget_log.build_table(con, tmp_path / "log")
        full = con.execute("DESCRIBE ops.forget_log").fetchall()
        assert con.execute("SELECT forget_id, source_records FROM ops.forget_log").fetchall() == [("forget-2", 2)]
    assert [(c[0], c[1]) for c in empty] == [(c[0], c[1]) for c in full]
    assert [c[0] for c in full] == [f.name for f in forget_log.LOG_SCHEMA]


# --- 5. text -----------------------------------------------------------------------------------------------

def test_text_files_are_redacted_in_place_and_scratch_copies_removed(tiny, tmp_path):
    landing, _, _ = tiny
    wh = tmp_path / "wh"
    (wh / "logs").mkdir(parents=True)
    (wh / "raw").mkdir()
    log = wh / "logs" / "run.log"
    log.write_text(f"loaded C00000001 and C000000011; mail {EMAIL.upper()}\n")
    log.chmod(0o640)
    (wh / "raw" / "note.txt").write_text("C00000001")  # data folders are scrubbed as data, not as text
    sweeper = Sweeper(suppress.Hasher(b"k"), suppress.ForgottenList(tmp_path / "none"), PERSON, [], [EMAIL])
    assert redact_text_files(wh, sweeper, say=lambda m: None) == 1
    assert log.read_text() == f"loaded {REDACTED} and C000000011; mail {REDACTED}\n"
    assert log.stat().st_mode & 0o777 == 0o640 and (wh / "raw" / "note.txt").read_text() == "C00000001"
    assert scan_landing(landing, sweeper) == {"2025-01-01/customers.csv": 3, "2025-01-01/orders.csv": 2,
                                              "2025-01-02/orders.csv": 1}
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    (scratch / "2025-01-01__customers.csv").write_text("C00000001")
    assert remove_scratch(scratch) == 1 and not any(scratch.iterdir())
